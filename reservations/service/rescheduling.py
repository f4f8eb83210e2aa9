"""Moving and cancelling booked meetings: one meeting, or (for a series) it and every later
meeting of its series, all or nothing."""

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bridgedesk.clock import utcnow
from bridgedesk.errors import Conflict
from bridgedesk.identity import Actor
from reservations.models import Conference, ConferenceStatus
from reservations.service import capacity, series
from reservations.service.booking import (
    CANCELLABLE_STATUSES,
    HoldCollided,
    InvalidBooking,
    SitesBusy,
    changing_holds,
    check_times,
    describe_conflicts,
    find_conflicts,
    release,
    require_booker,
)
from reservations.service.queries import get_conference
from reservations.service.recurrence import (
    place,
)
from reservations.service.registry import customer_zone, get_customer, sites_by_id


class Scope(StrEnum):
    THIS = "this"
    FOLLOWING = "following"  # this occurrence and every later one of its series


class NotMovable(Conflict):
    message = "Only a booking that has not started can be moved."


async def _scope_members(
    session: AsyncSession, conference: Conference, scope: Scope
) -> list[Conference]:
    """The conference first, then (FOLLOWING) its series' later meetings not yet held.

    "Later" is by position in the series, not by time: a meeting moved alone may now lie
    before or after its neighbours, and it stays the meeting it was.
    """
    if scope == Scope.THIS or conference.series_id is None or conference.occurrence_index is None:
        return [conference]
    later = await session.scalars(
        select(Conference)
        .where(
            Conference.series_id == conference.series_id,
            Conference.occurrence_index > conference.occurrence_index,
            Conference.status.in_(CANCELLABLE_STATUSES),
        )
        .order_by(Conference.occurrence_index)
    )
    return [conference, *later]


async def cancel(
    session: AsyncSession, conference_id: int, *, by: Actor, scope: Scope = Scope.THIS
) -> list[Conference]:
    """Cancel one booking, or it and the rest of its series."""
    require_booker(by, "cancel conferences")
    conference = await get_conference(session, conference_id, by=by)
    members = await _scope_members(session, conference, scope)
    for member in members:  # the conference first: if it cannot be cancelled, nothing is
        await release(session, member)
    await session.flush()
    return members


@dataclass(frozen=True)
class _Plan:
    member: Conference
    start: datetime
    end: datetime


def _wall(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


def _plans(
    members: Sequence[Conference], start: datetime, end: datetime, zone: ZoneInfo
) -> list[_Plan]:
    """The new times: the first member's shift applied to each one's local wall-clock time, so
    meetings moved to 10:00 are at 10:00 on both sides of a DST change."""
    pivot, *later = members
    shift = _wall(start, zone) - _wall(pivot.starts_at, zone)
    plans = [_Plan(pivot, start, end)]
    for member in later:
        new_start = place(_wall(member.starts_at, zone) + shift, zone)
        plans.append(_Plan(member, new_start, new_start + (end - start)))
    return plans


def _check_plans(plans: Sequence[_Plan], now: datetime) -> None:
    if any(plan.start <= now for plan in plans):
        raise InvalidBooking("Not moved: a meeting would start in the past.")
    ordered = sorted(plans, key=lambda plan: plan.start)
    # Meetings of one series hold the same sites; a wall-clock shift can bring two together.
    for earlier, following in itertools.pairwise(ordered):
        if earlier.end > following.start:
            raise InvalidBooking(
                f"Not moved: {earlier.member.number} and {following.member.number} "
                "would overlap each other."
            )


async def _refuse_conflicts(session: AsyncSession, plans: Sequence[_Plan]) -> None:
    moving_ids = {plan.member.id for plan in plans}
    for plan in plans:
        site_ids = [hold.site_id for hold in plan.member.sites]
        conflicts = [
            c
            for c in await find_conflicts(session, site_ids, plan.start, plan.end)
            if c.conference_id not in moving_ids
        ]
        if conflicts:
            raise SitesBusy(
                f"Not moved: {describe_conflicts(conflicts)}.",
                conflicts=[c.as_dict() for c in conflicts],
            )


async def move(
    session: AsyncSession,
    conference_id: int,
    start: datetime,
    end: datetime,
    *,
    by: Actor,
    scope: Scope = Scope.THIS,
) -> list[Conference]:
    """Move a booking (or it and its series' later ones by the same shift), all or nothing.

    A moved booking is confirmed again by the rules, as if booked now.
    """
    require_booker(by, "move conferences")
    check_times(start, end)
    conference = await get_conference(session, conference_id, by=by)
    now = utcnow()
    if start <= now:
        raise InvalidBooking("The new start is in the past.")
    members = await _scope_members(session, conference, scope)
    for member in members:
        if member.status not in CANCELLABLE_STATUSES:
            raise NotMovable(f"{member.number} is {member.status}; it cannot be moved.")
    customer = await get_customer(session, conference.customer_id, by=by)
    zone = customer_zone(customer)
    plans = _plans(members, start, end, zone)
    _check_plans(plans, now)
    # Same order as bookings (sites by id) so that a move and a booking queue, never deadlock.
    sites = await sites_by_id(
        session, sorted({h.site_id for m in members for h in m.sites}), lock=True
    )
    await _refuse_conflicts(session, plans)
    placement = await capacity.place_scheduled(
        session,
        [(plan.start, plan.end) for plan in plans],
        max(len(m.sites) for m in members),
        excluding={m.id for m in members},
    )
    first_booked = await series.first_booked_index(session, conference)
    # Free every old slot first, so a series moved by less than its period can overlap itself.
    for member in members:
        for hold in member.sites:
            hold.held = False
    await session.flush()
    try:
        async with changing_holds(session):
            for plan in plans:
                _reschedule(plan, placement.bridge_id)
                plan.member.confirmation_due = series.series_deadline(
                    now,
                    plan.start,
                    zone,
                    index=plan.member.occurrence_index,
                    first_booked=first_booked,
                )
    except HoldCollided:
        raise SitesBusy("Not moved: another booking took one of the sites meanwhile.") from None
    await series.confirm_automatically(session, members, sites)
    return members


def _reschedule(plan: _Plan, bridge_id: int | None) -> None:
    """The member at its new time, on the bridge placed for it, to be confirmed again."""
    member = plan.member
    member.starts_at, member.ends_at = plan.start, plan.end
    for hold in member.sites:
        hold.starts_at, hold.ends_at, hold.held = plan.start, plan.end, True
    member.bridge_id = bridge_id
    member.status = ConferenceStatus.REQUESTED
    member.confirmed_at = None
    member.confirmed_by = None
    member.overdue_flagged_at = None
