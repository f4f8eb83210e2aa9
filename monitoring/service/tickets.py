"""Help-desk tickets: opening with the caller's details (checked against the customer's
support contracts), the SLA clocks of the contract's or customer's policy, finding and listing
tickets and reading their timeline. Working a ticket once open (respond, update, escalate,
wait, resume, resolve, reopen) lives in `ticket_handling`."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bridgedesk.clock import utcnow
from bridgedesk.db import MAX_KEY
from bridgedesk.errors import Forbidden, InvalidInput, NotFound
from bridgedesk.identity import Actor, Role
from monitoring.models import Ticket, TicketBreach, TicketEvent
from monitoring.service.contracts import coverage_for
from monitoring.service.intervals import Interval
from monitoring.service.paging import page_on_call, page_sl4_ticket
from monitoring.service.sla import SEVERITIES, Policy, customer_policy_id, load_policy
from monitoring.service.ticket_mail import acknowledge
from reservations.service import registry

CHANNELS = ("phone", "email", "web")
TIERS = ("1", "2", "3", "engineering")
STATUSES = ("open", "responded", "waiting", "awaiting_patch", "resolved")
CLOSURE_REASONS = ("solved_without_code_change", "patch_provided", "third_party_component")
# Provider staff who work tickets; customers' schedulers open and follow their own.
HANDLERS = frozenset({Role.ADMIN, Role.OPERATOR, Role.TECHNICIAN})
OPENERS = HANDLERS | {Role.SCHEDULER}


class TicketNotFound(NotFound):
    message = "No such ticket."


@dataclass(frozen=True)
class NewTicket:
    customer_id: int
    severity: str
    summary: str
    description: str
    channel: str
    reported_at: datetime | None = None
    caller_name: str | None = None
    caller_company: str | None = None
    caller_account: str | None = None
    caller_system: str | None = None
    suggested_severity: str | None = None
    # Phone calls: when the call was offered to the desk and when it was picked up. A phone
    # ticket with neither was taken as it was opened; one offered and not answered waits in
    # the queue.
    offered_at: datetime | None = None
    answered_at: datetime | None = None
    related_ticket_id: int | None = None


def next_tier(tier: str) -> str:
    index = TIERS.index(tier)
    return TIERS[min(index + 1, len(TIERS) - 1)]


def pauses_of(ticket: Ticket) -> list[Interval]:
    return [
        Interval(datetime.fromisoformat(start), datetime.fromisoformat(end))
        for start, end in ticket.pauses or []
    ]


def add_event(
    session: AsyncSession, ticket: Ticket, what: str, by: str, note: str | None, **data: str
) -> None:
    session.add(
        TicketEvent(ticket_id=ticket.id, at=utcnow(), kind=what, by=by, note=note, data=data)
    )


def set_resolution_clock(ticket: Ticket, policy: Policy) -> None:
    ticket.resolve_by = policy.due(
        policy.targets[ticket.severity].resolve,
        ticket.clock_started_at or ticket.reported_at,
        pauses_of(ticket),
    )


def check_choice(value: str, choices: Sequence[str], name: str) -> str:
    if value not in choices:
        raise InvalidInput(f"{name} must be one of {', '.join(choices)}.")
    return value


async def open_ticket(session: AsyncSession, data: NewTicket, *, by: Actor) -> Ticket:
    if by.role not in OPENERS:
        raise Forbidden("Your role may not open help-desk tickets.")
    customer = await registry.get_customer(session, data.customer_id, by=by)
    check_choice(data.severity, SEVERITIES, "severity")
    check_choice(data.channel, CHANNELS, "channel")
    if data.suggested_severity is not None:
        check_choice(data.suggested_severity, SEVERITIES, "suggested_severity")
    now = utcnow()
    reported_at = data.reported_at or now
    if reported_at > now:
        raise InvalidInput("reported_at must not be in the future.")
    offered_at, answered_at = _call_times(data, reported_at, now)
    related = None
    if data.related_ticket_id is not None:
        related = await get_ticket(session, data.related_ticket_id, by=by)
        if related.customer_id != customer.id:
            raise InvalidInput("A related ticket must be the same customer's.")
    caller_name = data.caller_name or by.name
    coverage = await coverage_for(
        session,
        customer.id,
        on=reported_at.astimezone(ZoneInfo(customer.timezone)).date(),
        caller_name=caller_name,
        caller_email=by.email if data.caller_name is None else None,
        system=data.caller_system,
        account=data.caller_account,
    )
    # A call under contract runs on the contract's policy; best effort on the customer's.
    policy_id = coverage.policy_id if not coverage.best_effort else None
    policy = await load_policy(session, policy_id or await customer_policy_id(session, customer.id))
    clock_start = policy.clock_start(data.severity, reported_at)
    ticket = Ticket(
        customer_id=customer.id,
        reporter_id=by.user_id,
        reporter_name=by.name,
        caller_name=caller_name,
        caller_company=data.caller_company or customer.name,
        caller_account=data.caller_account,
        caller_system=data.caller_system,
        # A customer's choice is a suggestion; the desk's (or its confirmation) is final.
        suggested_severity=data.suggested_severity or data.severity,
        severity=data.severity,
        summary=data.summary,
        description=data.description,
        channel=data.channel,
        tier="1",
        status="open",
        policy_id=policy.id,
        reported_at=reported_at,
        created_at=now,
        clock_started_at=clock_start,
        after_hours=not policy.is_open(reported_at) and policy.takes_after_hours(data.severity),
        respond_by=policy.due(policy.respond_clock(data.severity, data.channel), clock_start),
        pauses=[],
        contract_id=coverage.contract_id,
        best_effort=coverage.best_effort,
        best_effort_reason=coverage.best_effort_reason,
        work_minutes=0,
        offered_at=offered_at,
        answered_at=answered_at,
        related_ticket_id=related.id if related is not None else None,
    )
    set_resolution_clock(ticket, policy)
    session.add(ticket)
    await session.flush()
    add_event(session, ticket, "opened", by.name, data.summary, severity=data.severity)
    if related is not None:
        add_event(session, ticket, "related", by.name, None, ticket_id=str(related.id))
        add_event(session, related, "related", by.name, None, ticket_id=str(ticket.id))
    if ticket.severity == "SL4":
        await page_sl4_ticket(session, ticket)
    if not by.is_provider:
        await acknowledge(session, ticket, by.email)
    if ticket.after_hours:
        await page_on_call(
            session,
            "after_hours_ticket",
            summary=f"Ticket #{ticket.id} ({ticket.severity}) on the after-hours line: "
            f"{ticket.summary}",
            dedupe_key=f"after-hours-{ticket.id}",
            ticket_id=ticket.id,
            customer=customer.name,
            severity=ticket.severity,
            respond_by=ticket.respond_by.isoformat(),
        )
    await session.flush()
    return ticket


def _call_times(
    data: NewTicket, reported_at: datetime, now: datetime
) -> tuple[datetime | None, datetime | None]:
    """The phone queue's two instants; other channels have none."""
    if data.channel != "phone":
        if data.offered_at is not None or data.answered_at is not None:
            raise InvalidInput("offered_at and answered_at are for phone tickets.")
        return None, None
    if data.offered_at is None and data.answered_at is None:
        return reported_at, reported_at
    offered = data.offered_at or reported_at
    answered = data.answered_at
    if offered > now or (answered is not None and answered > now):
        raise InvalidInput("offered_at and answered_at must not be in the future.")
    if answered is not None and answered < offered:
        raise InvalidInput("answered_at must not be before offered_at.")
    return offered, answered


async def get_ticket(
    session: AsyncSession, ticket_id: int, *, by: Actor, lock: bool = False
) -> Ticket:
    """The ticket, if `by` may see it; `lock` holds its row until the transaction ends, so
    two people acting on one ticket at once take turns (the second sees the first's change).
    An id outside the database's INTEGER range is no ticket (looking it up would overflow)."""
    if not 1 <= ticket_id <= MAX_KEY:
        raise TicketNotFound()
    ticket = await session.get(Ticket, ticket_id, with_for_update=lock, populate_existing=lock)
    if ticket is None or not by.may_see_customer(ticket.customer_id):
        raise TicketNotFound()
    return ticket


async def list_tickets(
    session: AsyncSession,
    *,
    by: Actor,
    customer_id: int | None = None,
    status: str | None = None,
    limit: int = 200,
) -> Sequence[Ticket]:
    query = select(Ticket).order_by(Ticket.reported_at.desc(), Ticket.id.desc()).limit(limit)
    if not by.is_provider:
        query = query.where(Ticket.customer_id == by.customer_id)
    if customer_id is not None:
        query = query.where(Ticket.customer_id == customer_id)
    if status is not None:
        query = query.where(Ticket.status == check_choice(status, STATUSES, "status"))
    return (await session.scalars(query)).all()


async def timeline(session: AsyncSession, ticket: Ticket) -> Sequence[TicketEvent]:
    return (
        await session.scalars(
            select(TicketEvent)
            .where(TicketEvent.ticket_id == ticket.id)
            .order_by(TicketEvent.at, TicketEvent.id)
        )
    ).all()


async def breaches_of(session: AsyncSession, ticket: Ticket) -> Sequence[TicketBreach]:
    return (
        await session.scalars(
            select(TicketBreach)
            .where(TicketBreach.ticket_id == ticket.id)
            .order_by(TicketBreach.due_at, TicketBreach.id)
        )
    ).all()
