"""Confirming bookings against the published deadlines, and flagging the ones that slip."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bridgedesk import isolation, outbox
from bridgedesk.clock import utcnow
from bridgedesk.errors import Conflict, Forbidden
from bridgedesk.identity import Actor, Role
from bridgedesk.settings import get_settings
from reservations.models import Conference, ConferenceStatus, Site
from reservations.service import notifications
from reservations.service.queries import get_conference

CONFIRMING_ROLES = frozenset({Role.ADMIN, Role.OPERATOR})
AUTOMATIC = "automatic"
CERTIFIED = "certified"


class NotConfirmable(Conflict):
    message = "Only a requested conference can be confirmed."


def may_confirm(by: Actor, conference: Conference) -> bool:
    return by.role in CONFIRMING_ROLES and conference.status == ConferenceStatus.REQUESTED


def is_overdue(conference: Conference, now: datetime) -> bool:
    """Still waiting for confirmation after its deadline."""
    return (
        conference.status == ConferenceStatus.REQUESTED
        and conference.confirmation_due is not None
        and conference.confirmation_due < now
    )


async def confirm(session: AsyncSession, conference_id: int, *, by: Actor) -> Conference:
    if by.role not in CONFIRMING_ROLES:
        raise Forbidden("Only operators confirm conferences.")
    conference = await get_conference(session, conference_id, by=by)
    if conference.status != ConferenceStatus.REQUESTED:
        raise NotConfirmable(f"{conference.number} is {conference.status}, not requested.")
    _mark_confirmed(conference, by.name)
    await session.flush()
    await notifications.conference_confirmed(session, conference)
    return conference


def _mark_confirmed(conference: Conference, confirmed_by: str) -> None:
    conference.status = ConferenceStatus.CONFIRMED
    conference.confirmed_at = utcnow()
    conference.confirmed_by = confirmed_by


async def confirm_automatically_if_eligible(
    session: AsyncSession, conference: Conference, sites: Sequence[Site], *, notify: bool = True
) -> bool:
    """A booking whose sites are all certified needs no operator (SPEC §3).

    Without `notify` the caller tells the requester itself: a series sends one email for all
    the meetings confirmed together, not one per meeting.
    """
    if sites and all(site.certification_state == CERTIFIED for site in sites):
        _mark_confirmed(conference, AUTOMATIC)
        await session.flush()
        if notify:
            await notifications.conference_confirmed(session, conference)
        return True
    return False


async def confirmation_queue(
    session: AsyncSession, *, by: Actor, overdue_only: bool = False, limit: int = 200
) -> Sequence[Conference]:
    """Requested bookings, most urgent deadline first."""
    if by.role not in CONFIRMING_ROLES:
        raise Forbidden("Only operators see the confirmation queue.")
    # A meeting that is over can no longer be confirmed; it counts as missed in the reports.
    query = select(Conference).where(
        Conference.status == ConferenceStatus.REQUESTED, Conference.ends_at > utcnow()
    )
    if overdue_only:
        query = query.where(Conference.confirmation_due < utcnow())
    query = query.order_by(Conference.confirmation_due, Conference.id).limit(limit)
    return (await session.scalars(query)).all()


def _named(conference: Conference) -> str:
    return f"conference {conference.id} ({conference.number})"


async def flag_overdue_confirmations(session: AsyncSession) -> int:
    """Mark requested bookings past their deadline and tell operators, once per booking."""
    now = utcnow()
    overdue = (
        await session.scalars(
            select(Conference)
            .where(
                Conference.status == ConferenceStatus.REQUESTED,
                Conference.confirmation_due < now,
                Conference.overdue_flagged_at.is_(None),
            )
            .order_by(Conference.confirmation_due)
            .with_for_update(skip_locked=True)
        )
    ).all()

    async def flag(conference: Conference) -> None:
        conference.overdue_flagged_at = now
        await outbox.enqueue_email(
            session,
            topic="confirmation_overdue",
            to=[get_settings().operators_email],
            template="reservations/email/confirmation_overdue.txt",
            context={"conference": conference},
            dedupe_key=f"confirmation_overdue:{conference.id}",
        )
        await session.flush()

    skipped = await isolation.each_in_savepoint(
        session, overdue, flag, job="flag_overdue_confirmations", name=_named
    )
    return len(overdue) - len(skipped)


@dataclass(frozen=True)
class ConfirmationFact:
    """One booking judged against its confirmation deadline."""

    number: str
    due: datetime
    confirmed_at: datetime | None
    met: bool


@dataclass(frozen=True)
class ConfirmationFigure:
    judged: int
    met: int
    share_pct: Decimal | None
    bookings: list[ConfirmationFact]


async def confirmation_figure(
    session: AsyncSession,
    *,
    start: datetime,
    end: datetime,
    now: datetime,
    customer_id: int | None = None,
) -> ConfirmationFigure:
    """Of bookings whose confirmation deadline fell in [start, end) and has passed (or that
    were confirmed), how many were confirmed by it; an unconfirmed cancelled one is not
    judged, nor one whose deadline is still ahead."""
    query = select(Conference).where(
        Conference.confirmation_due >= start, Conference.confirmation_due < end
    )
    if customer_id is not None:
        query = query.where(Conference.customer_id == customer_id)
    facts: list[ConfirmationFact] = []
    for c in await session.scalars(query.order_by(Conference.confirmation_due, Conference.id)):
        due = c.confirmation_due
        assert due is not None
        if c.confirmed_at is None and (due > now or c.status == ConferenceStatus.CANCELLED):
            continue
        met = c.confirmed_at is not None and c.confirmed_at <= due
        facts.append(ConfirmationFact(c.number or "", due, c.confirmed_at, met))
    met_count = sum(1 for f in facts if f.met)
    share = (
        (Decimal(met_count) * 100 / Decimal(len(facts))).quantize(Decimal("0.01"), ROUND_HALF_UP)
        if facts
        else None
    )
    return ConfirmationFigure(len(facts), met_count, share, facts)
