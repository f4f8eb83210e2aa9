"""Recurring series: booked all-or-nothing (or skipping taken dates), moved and cancelled
one occurrence at a time or from one occurrence on."""

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bridgedesk.clock import utcnow
from bridgedesk.errors import Conflict, NotFound
from bridgedesk.identity import Actor
from reservations.models import Conference, ConferenceStatus, Series, Site
from reservations.service import capacity, notifications
from reservations.service.booking import (
    CANCELLABLE_STATUSES,
    BookingRequest,
    HoldCollided,
    InvalidBooking,
    SiteConflict,
    SitesBusy,
    changing_holds,
    check_may_book,
    check_text,
    check_times,
    describe_conflicts,
    find_conflicts,
    insert_conference,
    new_conference,
    release,
    requested_sites,
    require_booker,
)
from reservations.service.confirmation import confirm_automatically_if_eligible
from reservations.service.deadlines import confirmation_due
from reservations.service.queries import get_conference
from reservations.service.recurrence import (
    InvalidRecurrence,
    Occurrence,
    canonical_rule,
    expand,
    place,
)
from reservations.service.registry import customer_zone, get_customer, sites_by_id


class Scope(StrEnum):
    THIS = "this"
    FOLLOWING = "following"  # this occurrence and every later one of its series


class SeriesNotFound(NotFound):
    message = "No such series."


class NotMovable(Conflict):
    message = "Only a booking that has not started can be moved."


@dataclass(frozen=True)
class SkippedOccurrence:
    index: int
    start: datetime
    end: datetime
    conflicts: Sequence[SiteConflict]


@dataclass
class SeriesBooking:
    series: Series
    conferences: list[Conference]
    skipped: list[SkippedOccurrence] = field(default_factory=list)


def series_deadline(
    now: datetime, start: datetime, zone: ZoneInfo, *, index: int | None, first_booked: int | None
) -> datetime:
    """The series rule: "first meeting by the lead-time rules, each later one within 48 h".

    The first meeting is the series' first *booked* one: an occurrence skipped because it was
    taken was never booked. A conference outside any series has no index: lead-time rules.
    """
    later = index is not None and first_booked is not None and index > first_booked
    return confirmation_due(now, start, zone, later_occurrence=later)


async def _first_booked_index(session: AsyncSession, conference: Conference) -> int | None:
    if conference.series_id is None:
        return None
    return await session.scalar(
        select(func.min(Conference.occurrence_index)).where(
            Conference.series_id == conference.series_id
        )
    )


def _expand(rule: str, request: BookingRequest, zone_name: str) -> list[Occurrence]:
    try:
        return expand(rule, request.start, request.end - request.start, ZoneInfo(zone_name))
    except InvalidRecurrence as error:
        raise InvalidBooking(f"Recurrence: {error}") from None


@dataclass(frozen=True)
class PreviewedOccurrence:
    index: int
    start: datetime
    end: datetime
    conflicts: Sequence[SiteConflict]


async def preview_series(
    session: AsyncSession, request: BookingRequest, rule: str, *, by: Actor
) -> list[PreviewedOccurrence]:
    """What `book_series` would book, occurrence by occurrence, with each one's conflicts.

    Nothing is written; the booking form shows this before the scheduler submits.
    """
    check_may_book(request, by)
    customer = await get_customer(session, request.customer_id, by=by)
    check_times(request.start, request.end)
    if request.start <= utcnow():
        raise InvalidBooking("The start is in the past.")
    occurrences = _expand(rule, request, customer.timezone)
    # Dates alone can be previewed before any site is ticked; a preview takes no row locks.
    chosen = (
        await requested_sites(session, customer.id, request.sites, lock=False)
        if request.sites
        else []
    )
    site_ids = [c.site.id for c in chosen]
    return [
        PreviewedOccurrence(
            o.index, o.start, o.end, await find_conflicts(session, site_ids, o.start, o.end)
        )
        for o in occurrences
    ]


async def book_series(
    session: AsyncSession,
    request: BookingRequest,
    rule: str,
    *,
    by: Actor,
    skip_conflicts: bool = False,
) -> SeriesBooking:
    """Book every occurrence of `rule`; by default none if any is taken (409 naming which)."""
    check_may_book(request, by)
    check_text(request.title, request.leader_name, request.project_code)
    if request.record:
        raise InvalidBooking("A recorded conference cannot recur.")
    customer = await get_customer(session, request.customer_id, by=by)
    check_times(request.start, request.end)
    now = utcnow()
    if request.start <= now:
        raise InvalidBooking("The start is in the past.")
    occurrences = _expand(rule, request, customer.timezone)
    chosen = await requested_sites(session, customer.id, request.sites)
    site_ids = [c.site.id for c in chosen]

    free: list[Occurrence] = []
    skipped: list[SkippedOccurrence] = []
    for occurrence in occurrences:
        conflicts = await find_conflicts(session, site_ids, occurrence.start, occurrence.end)
        if conflicts:
            skipped.append(
                SkippedOccurrence(occurrence.index, occurrence.start, occurrence.end, conflicts)
            )
        else:
            free.append(occurrence)
    if skipped and not skip_conflicts:
        raise _series_busy(skipped)
    if not free:
        raise _series_busy(skipped)

    placement = await capacity.place_scheduled(
        session, [(o.start, o.end) for o in free], len(chosen)
    )
    zone = customer_zone(customer)
    series = Series(
        customer_id=customer.id,
        rrule=canonical_rule(rule, zone),
        timezone=customer.timezone,
        first_start=occurrences[0].start,
        duration_minutes=int((request.end - request.start).total_seconds() // 60),
        created_at=now,
    )
    session.add(series)
    await session.flush()
    booked: list[Conference] = []
    for occurrence in free:
        conference = new_conference(
            request,
            customer,
            chosen,
            start=occurrence.start,
            end=occurrence.end,
            by=by,
            booked_at=now,
            status=ConferenceStatus.REQUESTED,
        )
        conference.series_id = series.id
        conference.occurrence_index = occurrence.index
        conference.occurrence_start = occurrence.start
        conference.bridge_id = placement.bridge_id
        conference.confirmation_due = series_deadline(
            now, occurrence.start, zone, index=occurrence.index, first_booked=free[0].index
        )
        await insert_conference(session, conference)
        booked.append(conference)
    await _confirm_automatically(session, booked, {c.site.id: c.site for c in chosen})
    await notifications.booking_received(
        session,
        booked[0],
        requester_email=by.email,
        zone=customer.timezone,
        site_names={c.site.id: c.site.name for c in chosen},
    )
    return SeriesBooking(series, booked, skipped)


def _series_busy(skipped: Sequence[SkippedOccurrence]) -> SitesBusy:
    first = skipped[0]
    return SitesBusy(
        f"Not booked: {len(skipped)} occurrence(s) of the series are taken, the first on "
        f"{first.start:%Y-%m-%d %H:%M} UTC ({describe_conflicts(first.conflicts)}). "
        "Book with skip_conflicts to take the free ones.",
        conflicts=[
            c.as_dict() | {"occurrence_start": s.start.isoformat()}
            for s in skipped
            for c in s.conflicts
        ],
        skipped=[skipped_dict(s) for s in skipped],
    )


def skipped_dict(skipped: SkippedOccurrence) -> dict[str, object]:
    return {
        "index": skipped.index,
        "start": skipped.start.isoformat(),
        "end": skipped.end.isoformat(),
        "conflicts": [c.as_dict() for c in skipped.conflicts],
    }


async def get_series(
    session: AsyncSession, series_id: int, *, by: Actor
) -> tuple[Series, Sequence[Conference]]:
    series = await session.get(Series, series_id)
    if series is None or not by.may_see_customer(series.customer_id):
        raise SeriesNotFound()
    members = (
        await session.scalars(
            select(Conference)
            .where(Conference.series_id == series_id)
            .order_by(Conference.starts_at)
        )
    ).all()
    return series, members


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
    first_booked = await _first_booked_index(session, conference)
    # Free every old slot first, so a series moved by less than its period can overlap itself.
    for member in members:
        for hold in member.sites:
            hold.held = False
    await session.flush()
    try:
        async with changing_holds(session):
            for plan in plans:
                _reschedule(plan, placement.bridge_id)
                plan.member.confirmation_due = series_deadline(
                    now,
                    plan.start,
                    zone,
                    index=plan.member.occurrence_index,
                    first_booked=first_booked,
                )
    except HoldCollided:
        raise SitesBusy("Not moved: another booking took one of the sites meanwhile.") from None
    await _confirm_automatically(session, members, sites)
    return members


async def _confirm_automatically(
    session: AsyncSession, conferences: Sequence[Conference], sites: dict[int, Site]
) -> None:
    """Confirm the meetings that need no operator, and say so once: an invitation for one
    meeting, or one for the series when several of its meetings were confirmed together."""
    confirmed = [
        c
        for c in conferences
        if await confirm_automatically_if_eligible(
            session, c, [sites[hold.site_id] for hold in c.sites], notify=False
        )
    ]
    if len(confirmed) == 1:
        await notifications.conference_confirmed(session, confirmed[0])
    elif confirmed:  # several at once: meetings of one series (book_series, or move following)
        series = await session.get(Series, confirmed[0].series_id)
        assert series is not None
        await notifications.series_confirmed(session, series, confirmed)


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
