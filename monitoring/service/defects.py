"""Tier 3's defect and enhancement list: tickets that stay open until a patch exists wait
on an entry (status `awaiting_patch`, the resolution clock paused: "resolved by the next
patch"); releasing the fix resolves every ticket waiting on it."""

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bridgedesk.clock import utcnow
from bridgedesk.db import MAX_KEY
from bridgedesk.errors import Conflict, Forbidden, InvalidInput, NotFound
from bridgedesk.identity import Actor
from monitoring.models import Defect, Ticket
from monitoring.service.tickets import HANDLERS, add_event, get_ticket

DEFECT_KINDS = ("defect", "enhancement")


class DefectNotFound(NotFound):
    message = "No such defect."


class DefectReleased(Conflict):
    message = "The fix for this defect is already released."


@dataclass(frozen=True)
class NewDefect:
    kind: str
    title: str
    description: str


def _require_desk(by: Actor) -> None:
    if by.role not in HANDLERS:
        raise Forbidden("The defect list is the help desk's.")


async def create_defect(session: AsyncSession, data: NewDefect, *, by: Actor) -> Defect:
    _require_desk(by)
    if data.kind not in DEFECT_KINDS:
        raise InvalidInput("kind must be defect or enhancement.")
    defect = Defect(
        kind=data.kind,
        title=data.title,
        description=data.description,
        status="open",
        created_at=utcnow(),
        created_by=by.name,
    )
    session.add(defect)
    await session.flush()
    return defect


async def get_defect(
    session: AsyncSession, defect_id: int, *, by: Actor, lock: bool = False
) -> Defect:
    _require_desk(by)
    if not 1 <= defect_id <= MAX_KEY:
        raise DefectNotFound()
    defect = await session.get(Defect, defect_id, with_for_update=lock, populate_existing=lock)
    if defect is None:
        raise DefectNotFound()
    return defect


async def list_defects(session: AsyncSession, *, by: Actor) -> Sequence[Defect]:
    _require_desk(by)
    return (await session.scalars(select(Defect).order_by(Defect.id.desc()))).all()


async def tickets_of(session: AsyncSession, defect: Defect) -> Sequence[Ticket]:
    return (
        await session.scalars(
            select(Ticket).where(Ticket.defect_id == defect.id).order_by(Ticket.id)
        )
    ).all()


async def await_patch(
    session: AsyncSession, ticket_id: int, *, defect_id: int, note: str | None, by: Actor
) -> Ticket:
    """The ticket stays open until the defect's fix is released; its resolution clock stops."""
    ticket = await get_ticket(session, ticket_id, by=by, lock=True)
    _require_desk(by)
    defect = await get_defect(session, defect_id, by=by)
    if defect.status != "open":
        raise DefectReleased()
    if ticket.status not in ("open", "responded", "waiting"):
        raise Conflict(f"The ticket is {ticket.status}; it cannot wait for a patch.")
    now = utcnow()
    if ticket.responded_at is None:
        ticket.responded_at = now
    if ticket.paused_since is None:
        ticket.paused_since = now
    ticket.status = "awaiting_patch"
    ticket.defect_id = defect.id
    ticket.resolve_by = None
    ticket.next_update_by = None
    add_event(session, ticket, "awaiting_patch", by.name, note, defect_id=str(defect.id))
    await session.flush()
    return ticket


async def release_fix(session: AsyncSession, defect_id: int, *, release: str, by: Actor) -> Defect:
    """The fix is out: every ticket waiting on it is resolved with the patch provided."""
    defect = await get_defect(session, defect_id, by=by, lock=True)
    if defect.status == "released":
        raise DefectReleased()
    now = utcnow()
    defect.status = "released"
    defect.released_at = now
    defect.release = release
    waiting = await session.scalars(
        select(Ticket)
        .where(Ticket.defect_id == defect.id, Ticket.status == "awaiting_patch")
        .with_for_update()
    )
    for ticket in waiting:
        ticket.status = "resolved"
        ticket.resolved_at = now
        ticket.closure_reason = "patch_provided"
        ticket.next_update_by = None
        # Its resolution target was "the next patch": this release meets it.
        ticket.resolve_by = now
        add_event(
            session, ticket, "resolved", by.name, f"Fixed in {release}", defect_id=str(defect.id)
        )
    await session.flush()
    return defect
