"""Recurring series: booked all-or-nothing (or skipping taken dates), moved and cancelled
one occurrence at a time or from one occurrence on."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bridgedesk.clock import utcnow
from bridgedesk.errors import Conflict, Forbidden, NotFound
from bridgedesk.identity import Actor
from reservations.deadlines import confirmation_due
from reservations.models import Conference, ConferenceStatus, Series
from reservations.recurrence import InvalidRecurrence, Occurrence, canonical_rule, expand
from reservations.service import capacity, notifications
from reservations.service.booking import (
    BOOKING_ROLES,
    EXCLUSION_VIOLATION,
    BookingRequest,
    InvalidBooking,
    SiteConflict,
    SitesBusy,
    check_may_book,
    check_times,
    describe_conflicts,
    find_conflicts,
    insert_conference,
    new_conference,
    release,
    requested_sites,
)
from reservations.service.confirmation import confirm_automatically_if_eligible
from reservations.service.queries import get_conference
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


def _expand(rule: str, request: BookingRequest, zone_name: str) -> list[Occurrence]:
    from zoneinfo import ZoneInfo

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
    # Dates alone can be previewed before any site is ticked.
    chosen = await requested_sites(session, customer.id, request.sites) if request.sites else []
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
    for position, occurrence in enumerate(free):
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
        # "Recurring series: first meeting by the lead-time rules, each later one within 48 h."
        conference.confirmation_due = confirmation_due(
            now, occurrence.start, zone, later_occurrence=position > 0
        )
        await insert_conference(session, conference)
        await confirm_automatically_if_eligible(session, conference, [c.site for c in chosen])
        booked.append(conference)
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
    if scope == Scope.THIS or conference.series_id is None:
        return [conference]
    members = await session.scalars(
        select(Conference)
        .where(
            Conference.series_id == conference.series_id,
            Conference.starts_at >= conference.starts_at,
            Conference.status.in_([ConferenceStatus.REQUESTED, ConferenceStatus.CONFIRMED]),
        )
        .order_by(Conference.starts_at)
    )
    return list(members)


async def cancel(
    session: AsyncSession, conference_id: int, *, by: Actor, scope: Scope = Scope.THIS
) -> list[Conference]:
    """Cancel one booking, or it and the rest of its series."""
    if by.role not in BOOKING_ROLES:
        raise Forbidden("Your role may not cancel conferences.")
    conference = await get_conference(session, conference_id, by=by)
    members = await _scope_members(session, conference, scope)
    if conference not in members:
        members.insert(0, conference)
    for member in members:
        await release(session, member)
    await session.flush()
    return members


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
    if by.role not in BOOKING_ROLES:
        raise Forbidden("Your role may not move conferences.")
    check_times(start, end)
    conference = await get_conference(session, conference_id, by=by)
    now = utcnow()
    if start <= now:
        raise InvalidBooking("The new start is in the past.")
    shift = start - conference.starts_at
    length = end - start
    members = await _scope_members(session, conference, scope)
    for member in members:
        if member.status not in (ConferenceStatus.REQUESTED, ConferenceStatus.CONFIRMED):
            raise NotMovable(f"{member.number} is {member.status}; it cannot be moved.")
    plans = [(m, m.starts_at + shift, m.starts_at + shift + length) for m in members]
    moving_ids = {m.id for m in members}
    # Same order as bookings (sites by id) so that a move and a booking queue, never deadlock.
    await sites_by_id(session, sorted({h.site_id for m in members for h in m.sites}), lock=True)
    for member, new_start, new_end in plans:
        site_ids = [hold.site_id for hold in member.sites]
        conflicts = [
            c
            for c in await find_conflicts(session, site_ids, new_start, new_end)
            if c.conference_id not in moving_ids
        ]
        if conflicts:
            raise SitesBusy(
                f"Not moved: {describe_conflicts(conflicts)}.",
                conflicts=[c.as_dict() for c in conflicts],
            )
    await capacity.place_scheduled(
        session,
        [(s, e) for _, s, e in plans],
        max(len(m.sites) for m in members),
        excluding=moving_ids,
    )
    customer = await get_customer(session, conference.customer_id, by=by)
    zone = customer_zone(customer)
    # Free every old slot first, so a series moved by less than its period can overlap itself.
    for member, _, _ in plans:
        for hold in member.sites:
            hold.held = False
    await session.flush()
    try:
        # Changed inside the savepoint: beginning one flushes whatever is pending.
        async with session.begin_nested():
            for member, new_start, new_end in plans:
                member.starts_at, member.ends_at = new_start, new_end
                for hold in member.sites:
                    hold.starts_at, hold.ends_at, hold.held = new_start, new_end, True
                member.status = ConferenceStatus.REQUESTED
                member.confirmed_at = None
                member.confirmed_by = None
                member.overdue_flagged_at = None
                member.confirmation_due = confirmation_due(
                    now, new_start, zone, later_occurrence=member.occurrence_index not in (None, 0)
                )
            await session.flush()
    except IntegrityError as error:
        if getattr(error.orig, "sqlstate", None) != EXCLUSION_VIOLATION:
            raise
        raise SitesBusy("Not moved: another booking took one of the sites meanwhile.") from None
    return [m for m, _, _ in plans]
