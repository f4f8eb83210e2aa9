"""Best-effort support (SPEC §6, seed 000): the desk records its work minutes on a ticket and
the customer's consent; past the free minutes the issue is charged once, a record billing
puts on the month's invoice as its own line (through the app wiring, bridgedesk/figures.py)."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bridgedesk.clock import utcnow
from bridgedesk.errors import Conflict, Forbidden, InvalidInput
from bridgedesk.identity import Actor
from monitoring.models import DeskCharge, Ticket
from monitoring.service.contracts import BEST_EFFORT_TERMS
from monitoring.service.tickets import HANDLERS, OPENERS, add_event, get_ticket

# One entry of work is at most a day's work: a typo of 4000 minutes is refused, not billed.
MAX_WORK_MINUTES = 24 * 60


class NotBestEffort(Conflict):
    message = "The ticket is served under contract; best-effort work is not charged."


@dataclass(frozen=True)
class ChargeRecord:
    """A best-effort charge as billing reads it (through the app wiring, bridgedesk/figures.py)."""

    ticket_id: int
    customer_id: int
    charged_at: datetime
    minutes: int
    amount: Decimal
    summary: str


def _settle(
    session: AsyncSession, ticket: Ticket, charge: DeskCharge | None, now: datetime
) -> None:
    """Charge the issue once it is past the free minutes and consented to; later work only
    updates the minutes shown (the amount is per issue)."""
    if charge is not None:
        charge.minutes = ticket.work_minutes
        return
    if ticket.charge_consent_at is None or ticket.work_minutes <= BEST_EFFORT_TERMS.free_minutes:
        return
    session.add(
        DeskCharge(
            ticket_id=ticket.id,
            customer_id=ticket.customer_id,
            charged_at=now,
            minutes=ticket.work_minutes,
            amount=str(BEST_EFFORT_TERMS.charge_per_issue),
        )
    )


async def charge_of(session: AsyncSession, ticket_id: int) -> DeskCharge | None:
    return await session.scalar(select(DeskCharge).where(DeskCharge.ticket_id == ticket_id))


async def record_work(
    session: AsyncSession, ticket_id: int, *, minutes: int, note: str | None, by: Actor
) -> Ticket:
    ticket = await get_ticket(session, ticket_id, by=by, lock=True)
    if by.role not in HANDLERS:
        raise Forbidden("Only the help desk records work on tickets.")
    if not 1 <= minutes <= MAX_WORK_MINUTES:
        raise InvalidInput(f"minutes must be between 1 and {MAX_WORK_MINUTES}.")
    ticket.work_minutes += minutes
    add_event(
        session, ticket, "work", by.name, note, minutes=str(minutes), total=str(ticket.work_minutes)
    )
    if ticket.best_effort:
        _settle(session, ticket, await charge_of(session, ticket.id), utcnow())
    await session.flush()
    return ticket


async def record_consent(
    session: AsyncSession, ticket_id: int, *, note: str | None, by: Actor
) -> Ticket:
    """The customer agrees to the charge (told by phone to the desk, or given on the web)."""
    ticket = await get_ticket(session, ticket_id, by=by, lock=True)
    if by.role not in OPENERS:
        raise Forbidden("Your role may not record consent to a charge.")
    if not ticket.best_effort:
        raise NotBestEffort()
    if ticket.charge_consent_at is None:
        ticket.charge_consent_at = utcnow()
        ticket.charge_consent_by = by.name
        add_event(session, ticket, "charge_consent", by.name, note)
        _settle(session, ticket, await charge_of(session, ticket.id), ticket.charge_consent_at)
    await session.flush()
    return ticket


async def charges_between(
    session: AsyncSession, customer_ids: Sequence[int], start: datetime, end: datetime
) -> list[ChargeRecord]:
    """The best-effort charges made in [start, end) for these customers, oldest first."""
    rows = await session.execute(
        select(DeskCharge, Ticket.summary)
        .join(Ticket, Ticket.id == DeskCharge.ticket_id)
        .where(
            DeskCharge.customer_id.in_(list(customer_ids)),
            DeskCharge.charged_at >= start,
            DeskCharge.charged_at < end,
        )
        .order_by(DeskCharge.charged_at, DeskCharge.id)
    )
    return [
        ChargeRecord(
            ticket_id=charge.ticket_id,
            customer_id=charge.customer_id,
            charged_at=charge.charged_at,
            minutes=charge.minutes,
            amount=Decimal(charge.amount),
            summary=summary,
        )
        for charge, summary in rows
    ]
