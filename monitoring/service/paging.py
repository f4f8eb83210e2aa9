"""On-call paging: the urgent events that page the on-call engineer through the outbox's
webhook channel (an SL4 ticket, a ticket on the after-hours line, a bridge outage opened, a
missed help-desk clock), each paged at most once."""

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bridgedesk import webhooks
from bridgedesk.clock import utcnow
from bridgedesk.settings import get_settings
from monitoring.models import Ticket

# The events that page, with the sentence of SPEC §6 each encodes.
PAGED_EVENTS = {
    "sl4_ticket": "an SL4 ticket: bridge or network down, a meeting cannot be held",
    "after_hours_ticket": "a ticket opened outside its policy's hours on the after-hours line",
    "bridge_outage": "a bridge outage opened",
    "ticket_breach": "a help-desk clock missed (SLA breach)",
}


async def page_on_call(
    session: AsyncSession,
    event: str,
    *,
    summary: str,
    dedupe_key: str,
    at: datetime | None = None,
    **details: object,
) -> bool:
    """Queue the page in the caller's transaction; False when no on-call URL is configured
    or this event was paged already."""
    if event not in PAGED_EVENTS:
        raise ValueError(f"unknown on-call event {event!r}")
    url = get_settings().oncall_webhook_url
    if not url:
        return False
    payload: dict[str, object] = {
        "event": event,
        "why": PAGED_EVENTS[event],
        "summary": summary,
        "at": (at or utcnow()).isoformat(),
        **details,
    }
    queued = await webhooks.enqueue_webhook(
        session, topic=f"oncall_{event}", url=url, payload=payload, dedupe_key=f"page-{dedupe_key}"
    )
    return queued is not None


async def page_sl4_ticket(session: AsyncSession, ticket: Ticket) -> bool:
    """Page for a ticket that is (or has just become) SL4; once per ticket."""
    return await page_on_call(
        session,
        "sl4_ticket",
        summary=f"SL4 ticket #{ticket.id}: {ticket.summary}",
        dedupe_key=f"sl4-{ticket.id}",
        ticket_id=ticket.id,
        customer_id=ticket.customer_id,
        respond_by=ticket.respond_by.isoformat(),
    )
