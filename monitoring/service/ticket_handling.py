"""Working a help-desk ticket once it is open: respond, update, escalate, wait on the
customer, resume, resolve and reopen, each moving the SLA clocks and adding to the timeline.
Opening, finding and listing tickets live in `tickets`."""

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bridgedesk.clock import utcnow
from bridgedesk.errors import Conflict, Forbidden
from bridgedesk.identity import Actor
from monitoring.models import Ticket
from monitoring.service.paging import page_sl4_ticket
from monitoring.service.sla import SEVERITIES, load_policy
from monitoring.service.tickets import (
    CLOSURE_REASONS,
    HANDLERS,
    OPENERS,
    TIERS,
    add_event,
    check_choice,
    get_ticket,
    next_tier,
    set_resolution_clock,
)


class TicketStateConflict(Conflict):
    message = "The ticket is not in a state that allows this."


async def _handled(session: AsyncSession, ticket_id: int, by: Actor) -> Ticket:
    ticket = await get_ticket(session, ticket_id, by=by, lock=True)
    if by.role not in HANDLERS:
        raise Forbidden("Only the help desk works tickets.")
    return ticket


def _require(ticket: Ticket, *statuses: str) -> None:
    if ticket.status not in statuses:
        raise TicketStateConflict(
            f"The ticket is {ticket.status}; this needs it to be {' or '.join(statuses)}."
        )


def _close_pause(ticket: Ticket, now: datetime) -> None:
    if ticket.paused_since is not None:
        if now > ticket.paused_since:
            ticket.pauses = [
                *(ticket.pauses or []),
                [ticket.paused_since.isoformat(), now.isoformat()],
            ]
        ticket.paused_since = None


async def respond(
    session: AsyncSession,
    ticket_id: int,
    *,
    note: str | None,
    severity: str | None,
    by: Actor,
) -> Ticket:
    """The desk's first answer; it may set the final severity, which re-runs the clocks."""
    ticket = await _handled(session, ticket_id, by)
    _require(ticket, "open")
    policy = await load_policy(session, ticket.policy_id)
    now = utcnow()
    if severity is not None and severity != ticket.severity:
        ticket.severity = check_choice(severity, SEVERITIES, "severity")
        if ticket.severity == "SL4":
            await page_sl4_ticket(session, ticket)
    ticket.status = "responded"
    ticket.responded_at = now
    if ticket.channel == "phone" and ticket.answered_at is None:
        ticket.answered_at = now  # answering a waiting call takes it off the queue
    ticket.last_update_at = now
    ticket.next_update_by = policy.due(policy.targets[ticket.severity].update, now)
    set_resolution_clock(ticket, policy)
    add_event(session, ticket, "responded", by.name, note, severity=ticket.severity)
    await session.flush()
    return ticket


async def post_update(session: AsyncSession, ticket_id: int, *, note: str, by: Actor) -> Ticket:
    """A progress update to the customer: the update-cadence clock starts again."""
    ticket = await _handled(session, ticket_id, by)
    _require(ticket, "responded", "waiting")
    policy = await load_policy(session, ticket.policy_id)
    now = utcnow()
    ticket.last_update_at = now
    ticket.next_update_by = policy.due(policy.targets[ticket.severity].update, now)
    add_event(session, ticket, "updated", by.name, note)
    await session.flush()
    return ticket


async def escalate(
    session: AsyncSession, ticket_id: int, *, tier: str | None, note: str | None, by: Actor
) -> Ticket:
    ticket = await _handled(session, ticket_id, by)
    _require(ticket, "open", "responded", "waiting")
    target = next_tier(ticket.tier) if tier is None else check_choice(tier, TIERS, "tier")
    if TIERS.index(target) <= TIERS.index(ticket.tier):
        raise TicketStateConflict(f"The ticket is already at tier {ticket.tier}.")
    previous, ticket.tier = ticket.tier, target
    add_event(session, ticket, "escalated", by.name, note, tier=target, previous=previous)
    await session.flush()
    return ticket


async def wait_on_customer(
    session: AsyncSession, ticket_id: int, *, note: str | None, by: Actor
) -> Ticket:
    """Pause the resolution clock until the customer answers."""
    ticket = await _handled(session, ticket_id, by)
    _require(ticket, "responded")
    ticket.status = "waiting"
    ticket.paused_since = utcnow()
    ticket.resolve_by = None
    add_event(session, ticket, "waiting", by.name, note)
    await session.flush()
    return ticket


async def resume(session: AsyncSession, ticket_id: int, *, note: str | None, by: Actor) -> Ticket:
    ticket = await _handled(session, ticket_id, by)
    _require(ticket, "waiting")
    policy = await load_policy(session, ticket.policy_id)
    now = utcnow()
    _close_pause(ticket, now)
    ticket.status = "responded"
    set_resolution_clock(ticket, policy)
    ticket.next_update_by = policy.due(policy.targets[ticket.severity].update, now)
    add_event(session, ticket, "resumed", by.name, note)
    await session.flush()
    return ticket


async def resolve(
    session: AsyncSession,
    ticket_id: int,
    *,
    closure_reason: str,
    note: str | None,
    by: Actor,
) -> Ticket:
    ticket = await _handled(session, ticket_id, by)
    _require(ticket, "open", "responded", "waiting")
    check_choice(closure_reason, CLOSURE_REASONS, "closure_reason")
    now = utcnow()
    if ticket.status == "waiting":
        policy = await load_policy(session, ticket.policy_id)
        _close_pause(ticket, now)
        set_resolution_clock(ticket, policy)
    if ticket.responded_at is None:
        ticket.responded_at = now
    ticket.status = "resolved"
    ticket.resolved_at = now
    ticket.closure_reason = closure_reason
    ticket.next_update_by = None
    add_event(session, ticket, "resolved", by.name, note, closure_reason=closure_reason)
    await session.flush()
    return ticket


async def reopen(session: AsyncSession, ticket_id: int, *, note: str | None, by: Actor) -> Ticket:
    """The customer (or the desk) says it is not fixed: the time it sat resolved does not
    count against the desk, so it is a pause of the resolution clock."""
    ticket = await get_ticket(session, ticket_id, by=by, lock=True)
    if by.role not in OPENERS:
        raise Forbidden("Your role may not reopen tickets.")
    _require(ticket, "resolved")
    policy = await load_policy(session, ticket.policy_id)
    now = utcnow()
    ticket.paused_since = ticket.resolved_at
    _close_pause(ticket, now)
    ticket.status = "responded"
    ticket.resolved_at = None
    ticket.closure_reason = None
    ticket.last_update_at = now
    ticket.next_update_by = policy.due(policy.targets[ticket.severity].update, now)
    set_resolution_clock(ticket, policy)
    add_event(session, ticket, "reopened", by.name, note)
    await session.flush()
    return ticket
