"""Recurring series: previewed and booked all-or-nothing (or skipping taken dates), and read
back; moving and cancelling their meetings is in `rescheduling`."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bridgedesk.clock import utcnow
from bridgedesk.errors import NotFound
from bridgedesk.identity import Actor
from reservations.models import Conference, ConferenceStatus, Series, Site
from reservations.service import capacity, notifications
from reservations.service.booking import (
    BookingRequest,
    InvalidBooking,
    SiteConflict,
    SitesBusy,
    check_may_book,
    check_text,
    check_times,
    describe_conflicts,
    find_conflicts,
    insert_conference,
    new_conference,
    requested_sites,
)
from reservations.service.confirmation import confirm_automatically_if_eligible
from reservations.service.deadlines import confirmation_due
from reservations.service.recurrence import (
    InvalidRecurrence,
    Occurrence,
    canonical_rule,
    expand,
)
from reservations.service.registry import customer_zone, get_customer


class SeriesNotFound(NotFound):
    message = "No such series."


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


async def first_booked_index(session: AsyncSession, conference: Conference) -> int | None:
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
    await confirm_automatically(session, booked, {c.site.id: c.site for c in chosen})
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


async def confirm_automatically(
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
