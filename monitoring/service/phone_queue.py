"""The desk's phone queue (SPEC §6): phone tickets offered and not yet answered wait first
come, first served; the desk takes the next call from the head of the line."""

from collections.abc import Sequence

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from bridgedesk.clock import utcnow
from bridgedesk.errors import Forbidden, NotFound
from bridgedesk.identity import Actor
from monitoring.models import Ticket
from monitoring.service.tickets import HANDLERS, add_event


class QueueEmpty(NotFound):
    message = "No call is waiting."


def _waiting() -> Select[Ticket]:
    return (
        select(Ticket)
        .where(
            Ticket.channel == "phone",
            Ticket.offered_at.is_not(None),
            Ticket.answered_at.is_(None),
            Ticket.status != "resolved",
        )
        .order_by(Ticket.offered_at, Ticket.id)
    )


async def waiting_calls(session: AsyncSession, *, by: Actor) -> Sequence[Ticket]:
    """The calls waiting, longest-waiting first."""
    if by.role not in HANDLERS:
        raise Forbidden("The phone queue is the help desk's.")
    return (await session.scalars(_waiting())).all()


async def answer_next(session: AsyncSession, *, by: Actor) -> Ticket:
    """Take the call that has waited longest. Two desk members asking at once get two
    different calls (PostgreSQL: the first's row is skipped by the second)."""
    if by.role not in HANDLERS:
        raise Forbidden("The phone queue is the help desk's.")
    ticket = await session.scalar(_waiting().limit(1).with_for_update(skip_locked=True))
    if ticket is None:
        raise QueueEmpty()
    ticket.answered_at = utcnow()
    add_event(session, ticket, "answered", by.name, None)
    await session.flush()
    return ticket
