"""Missed help-desk clocks: found once each by the breach job, which tells the next tier;
and the counts the dashboard and /metrics show."""

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bridgedesk import isolation, outbox
from bridgedesk.clock import utcnow
from bridgedesk.settings import get_settings
from monitoring.models import Ticket, TicketBreach
from monitoring.service.paging import page_on_call
from monitoring.service.tickets import add_event, next_tier

BREACH_KINDS = ("response", "update", "resolution")


def missed_clocks(ticket: Ticket, now: datetime) -> list[tuple[str, datetime]]:
    """The (kind, due) of every clock this ticket has missed by `now` (pure)."""
    missed: list[tuple[str, datetime]] = []
    answered = ticket.responded_at
    if (answered is None and ticket.respond_by < now) or (
        answered is not None and answered > ticket.respond_by
    ):
        missed.append(("response", ticket.respond_by))
    if (
        ticket.status == "responded"
        and ticket.next_update_by is not None
        and ticket.next_update_by < now
    ):
        missed.append(("update", ticket.next_update_by))
    if ticket.resolve_by is not None:
        done = ticket.resolved_at
        if (done is None and ticket.status != "waiting" and ticket.resolve_by < now) or (
            done is not None and done > ticket.resolve_by
        ):
            missed.append(("resolution", ticket.resolve_by))
    return missed


async def mark_breaches(session: AsyncSession, *, now: datetime | None = None) -> int:
    """Record each missed clock once and tell the next tier; returns how many were new."""
    now = now or utcnow()
    settings = get_settings()
    candidates = (
        await session.scalars(
            select(Ticket).where(
                (Ticket.status != "resolved")
                | (Ticket.resolved_at > Ticket.resolve_by)
                | (Ticket.responded_at > Ticket.respond_by)
            )
        )
    ).all()
    if not candidates:
        return 0
    known = {
        (ticket_id, kind, due)
        for ticket_id, kind, due in await session.execute(
            select(TicketBreach.ticket_id, TicketBreach.kind, TicketBreach.due_at).where(
                TicketBreach.ticket_id.in_([t.id for t in candidates])
            )
        )
    }
    found = 0

    async def mark(ticket: Ticket) -> None:
        nonlocal found
        new = 0
        for kind, due in missed_clocks(ticket, now):
            if (ticket.id, kind, due) in known:
                continue
            tier = next_tier(ticket.tier)
            session.add(
                TicketBreach(
                    ticket_id=ticket.id, kind=kind, due_at=due, detected_at=now, notified_tier=tier
                )
            )
            add_event(session, ticket, "breach", "breach job", None, kind=kind, due=due.isoformat())
            await outbox.enqueue_email(
                session,
                topic="ticket_breach",
                to=[settings.support_tier_email.format(tier=tier)],
                template="monitoring/email/ticket_breach.txt",
                context={"ticket": ticket, "kind": kind, "due": due, "tier": tier},
                dedupe_key=f"ticket-breach-{ticket.id}-{kind}-{due.isoformat()}",
            )
            await page_on_call(
                session,
                "ticket_breach",
                summary=f"Ticket #{ticket.id} ({ticket.severity}) missed its {kind} clock",
                dedupe_key=f"breach-{ticket.id}-{kind}-{due.isoformat()}",
                at=now,
                ticket_id=ticket.id,
                severity=ticket.severity,
                kind=kind,
                due=due.isoformat(),
            )
            new += 1
        await session.flush()
        found += new

    await isolation.each_in_savepoint(
        session, candidates, mark, job="mark_ticket_breaches", name=lambda t: f"ticket {t.id}"
    )
    await session.flush()
    return found


async def counts_by_severity(session: AsyncSession) -> dict[tuple[str, str], int]:
    rows = await session.execute(
        select(Ticket.severity, Ticket.status, func.count(Ticket.id)).group_by(
            Ticket.severity, Ticket.status
        )
    )
    return {(severity, status): count for severity, status, count in rows}


async def breach_counts(session: AsyncSession) -> dict[tuple[str, str], int]:
    rows = await session.execute(
        select(Ticket.severity, TicketBreach.kind, func.count(TicketBreach.id))
        .join(Ticket, Ticket.id == TicketBreach.ticket_id)
        .group_by(Ticket.severity, TicketBreach.kind)
    )
    return {(severity, kind): count for severity, kind, count in rows}
