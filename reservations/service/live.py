"""Conferences under way: ad hoc calls that are never refused, overruns that are never cut,
and sites added to a running meeting."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bridgedesk import isolation
from bridgedesk.clock import utcnow
from bridgedesk.errors import Conflict, InvalidInput
from bridgedesk.identity import Actor
from reservations.models import Conference, ConferenceStatus, Site, SiteHold
from reservations.service import capacity, notifications
from reservations.service.booking import (
    BookingRequest,
    ChosenSite,
    HoldCollided,
    SiteConflict,
    SiteRequest,
    changing_holds,
    check_text,
    check_times,
    find_conflicts,
    insert_conference,
    may_book,
    new_conference,
    requested_sites,
    require_booker,
    sites_busy,
)
from reservations.service.queries import ConferenceNotFound, get_conference
from reservations.service.registry import get_customer, sites_by_id


@dataclass(frozen=True)
class AdhocTurnaround:
    """How long connecting an ad hoc conference is promised to take (its `ready_by`)."""

    # Certified sites, up to `included_sites` of them.
    base: timedelta
    included_sites: int
    # Every site beyond those, certified or not.
    per_site: timedelta
    # On top, for each site not yet certified (its first call may need a technician).
    per_uncertified: timedelta
    # A request made "on the fly" through the web page starts from this instead of `base`.
    on_the_fly: timedelta

    def window(self, sites: int, uncertified: int, *, on_the_fly: bool = False) -> timedelta:
        start = self.on_the_fly if on_the_fly else self.base
        beyond = max(0, sites - self.included_sites)
        return start + beyond * self.per_site + uncertified * self.per_uncertified


# "Certified sites connected within 5 min of the request (longer for sites not yet
# certified; grows with the number of sites); 'on the fly' requests get a 15-min window."
# The growth is the provider's: a minute for each site past the fourth, five more for each
# uncertified one (100 uncertified sites: 5 + 96 + 500 min).
ADHOC_TURNAROUND = AdhocTurnaround(
    base=timedelta(minutes=5),
    included_sites=4,
    per_site=timedelta(minutes=1),
    per_uncertified=timedelta(minutes=5),
    on_the_fly=timedelta(minutes=15),
)
ADHOC_DEFAULT_LENGTH = timedelta(minutes=60)
# "Adding a site to a running meeting: 5 min per site."
ADD_SITE_TARGET = timedelta(minutes=5)
# "A live conference is never cut at its scheduled end. It is extended in 15-min steps."
OVERRUN_STEP = timedelta(minutes=15)
MAX_EXTENSION = timedelta(hours=12)
AUTOMATIC = "automatic (ad hoc)"
# A conference that has not ended can still be extended or joined by another site.
OPEN_STATUSES = (ConferenceStatus.REQUESTED, ConferenceStatus.CONFIRMED, ConferenceStatus.LIVE)


def may_change(by: Actor, conference: Conference) -> bool:
    """Whether `by` may extend the conference or add a site to it."""
    return may_book(by) and conference.status in OPEN_STATUSES


class NotExtendable(Conflict):
    message = "Only a conference that has not ended can be extended."


class SiteAlreadyIn(Conflict):
    message = "That site already takes part in the conference."


@dataclass
class AdhocResult:
    conference: Conference
    unavailable: list[SiteConflict] = field(default_factory=list)


@dataclass(frozen=True)
class OverrunConflict:
    site_id: int
    site_name: str
    conference_id: int
    conference_number: str
    start: datetime
    end: datetime


def ready_by(
    requested_at: datetime,
    sites: Sequence[Site],
    *,
    on_the_fly: bool = False,
    rule: AdhocTurnaround = ADHOC_TURNAROUND,
) -> datetime:
    """The conference's own promise; the call statistics measure it against this."""
    uncertified = sum(1 for site in sites if site.certification_state != "certified")
    return requested_at + rule.window(len(sites), uncertified, on_the_fly=on_the_fly)


async def start_adhoc(
    session: AsyncSession,
    *,
    customer_id: int,
    title: str,
    leader_name: str,
    sites: Sequence[SiteRequest],
    length: timedelta = ADHOC_DEFAULT_LENGTH,
    on_the_fly: bool = False,
    by: Actor,
) -> AdhocResult:
    """An ad hoc conference starting now; never refused.

    Bridge ports come from the ad hoc reserve; past every port it is accepted as overflow and
    operators are alerted. A site already in another meeting cannot be in two at once: it is
    left out and reported, the rest go ahead. `on_the_fly`: asked for on the web page, so
    promised the 15-minute window.
    """
    require_booker(by, "start conferences")
    check_text(title, leader_name)
    if not timedelta(minutes=1) <= length <= timedelta(hours=24):
        raise InvalidInput("An ad hoc conference lasts between 1 minute and 24 hours.")
    customer = await get_customer(session, customer_id, by=by)
    chosen = await requested_sites(session, customer.id, sites)
    now = utcnow()
    start, end = now, now + length
    request = BookingRequest(customer.id, title, leader_name, start, end, sites)
    unavailable: list[SiteConflict] = []
    for _attempt in range(3):
        busy = await find_conflicts(session, [c.site.id for c in chosen], start, end)
        unavailable.extend(busy)
        busy_ids = {c.site_id for c in busy}
        chosen = [c for c in chosen if c.site.id not in busy_ids]
        conference = new_conference(
            request,
            customer,
            chosen,
            start=start,
            end=end,
            by=by,
            booked_at=now,
            status=ConferenceStatus.CONFIRMED,
        )
        conference.adhoc = True
        conference.confirmed_at = now
        conference.confirmed_by = AUTOMATIC
        conference.ready_by = ready_by(now, [c.site for c in chosen], on_the_fly=on_the_fly)
        placement = await capacity.place_adhoc(session, start, end, len(chosen))
        conference.bridge_id = placement.bridge_id
        conference.overflow = placement.overflow
        try:
            await insert_conference(session, conference)
        except Conflict:
            continue  # a site was taken between the check and the insert: leave it out
        break
    else:  # pragma: no cover - three races in a row on the same sites
        raise Conflict("The sites are changing too fast; try again.")
    if conference.overflow:
        await notifications.adhoc_overflow(session, conference)
    if unavailable:
        await notifications.adhoc_sites_unavailable(session, conference, unavailable)
    return AdhocResult(conference, unavailable)


def _check_may_change(by: Actor) -> None:
    require_booker(by, "change conferences")


async def extend(
    session: AsyncSession,
    conference_id: int,
    minutes: int,
    *,
    by: Actor | None,
) -> tuple[Conference, list[OverrunConflict]]:
    """Push a conference's end later; a later booking of its sites never refuses it.

    Each site stays held up to the next booking of that site; the overlap with that later
    booking is reported and both schedulers and the operators are told, and neither meeting
    is cut. A meeting that has not started yet is still a booking: it keeps the 24-hour limit
    and the bridges' capacity. `by=None` is the automatic overrun job.
    """
    if by is None:
        found = await session.get(Conference, conference_id)
        if found is None:
            raise ConferenceNotFound()
        conference = found
    else:
        _check_may_change(by)
        conference = await get_conference(session, conference_id, by=by)
    if conference.status not in OPEN_STATUSES:
        raise NotExtendable(f"{conference.number} is {conference.status}.")
    step = timedelta(minutes=minutes)
    if not timedelta(minutes=1) <= step <= MAX_EXTENSION:
        raise InvalidInput("Extend by between 1 minute and 12 hours.")
    # A conference already past its end (the overrun job ran late) runs on from now.
    old_end = conference.ends_at
    if conference.status == ConferenceStatus.LIVE:
        old_end = max(old_end, utcnow())
    new_end = old_end + step
    held = [h for h in conference.sites if h.held]
    # Same order as bookings (sites by id): an extension and a booking queue, never deadlock.
    await sites_by_id(session, sorted(h.site_id for h in held), lock=True)
    if conference.status != ConferenceStatus.LIVE:
        check_times(conference.starts_at, new_end)
        await capacity.place_scheduled(
            session, [(conference.ends_at, new_end)], len(held), excluding={conference.id}
        )
    overruns: list[OverrunConflict] = []
    for _attempt in range(3):
        try:
            async with changing_holds(session):
                overruns = await _hold_until(session, conference, new_end)
        except HoldCollided:
            continue  # a booking landed in the gap meanwhile; hold up to it instead
        break
    else:  # pragma: no cover - three bookings in a row landed in the same gap
        raise Conflict("The sites' bookings are changing too fast; try again.")
    conference.ends_at = new_end
    await session.flush()
    by_later: dict[int, list[OverrunConflict]] = {}
    for overrun in overruns:
        by_later.setdefault(overrun.conference_id, []).append(overrun)
    for later_id, items in by_later.items():
        later = await session.get(Conference, later_id)
        assert later is not None
        await notifications.overrun_conflict(
            session, conference, later, [item.site_name for item in items]
        )
    return conference, overruns


async def _hold_until(
    session: AsyncSession, conference: Conference, new_end: datetime
) -> list[OverrunConflict]:
    overruns: list[OverrunConflict] = []
    for hold in conference.sites:
        if not hold.held:
            continue
        later = await find_conflicts(
            session, [hold.site_id], hold.ends_at, new_end, excluding_conference=conference.id
        )
        hold.ends_at = max(hold.ends_at, min([new_end, *(c.start for c in later)]))
        overruns.extend(
            OverrunConflict(
                c.site_id, c.site_name, c.conference_id, c.conference_number, c.start, c.end
            )
            for c in later
        )
    return overruns


async def add_site(
    session: AsyncSession,
    conference_id: int,
    site_request: SiteRequest,
    *,
    by: Actor,
) -> Conference:
    """Add a site to a booked or running conference if it is free until the conference ends."""
    _check_may_change(by)
    conference = await get_conference(session, conference_id, by=by)
    if conference.status not in OPEN_STATUSES:
        raise NotExtendable(f"{conference.number} is {conference.status}; no site can join.")
    if any(hold.site_id == site_request.site_id for hold in conference.sites):
        raise SiteAlreadyIn()
    [chosen] = await requested_sites(session, conference.customer_id, [site_request])
    now = utcnow()
    start = max(now, conference.starts_at)
    end = max(conference.ends_at, start + timedelta(minutes=1))
    conflicts = await find_conflicts(session, [chosen.site.id], start, end)
    if conflicts:
        raise sites_busy(conflicts, refused="Not added")
    if conference.status != ConferenceStatus.LIVE:
        await capacity.place_scheduled(session, [(start, end)], 1)
    try:
        async with changing_holds(session):
            conference.sites.append(_new_hold(chosen, start, end, added_at=now))
    except HoldCollided:
        raise sites_busy(
            await find_conflicts(session, [chosen.site.id], start, end), refused="Not added"
        ) from None
    return conference


def _new_hold(
    chosen: ChosenSite, start: datetime, end: datetime, *, added_at: datetime
) -> SiteHold:
    return SiteHold(
        site_id=chosen.site.id,
        speed_kbps=chosen.speed_kbps,
        starts_at=start,
        ends_at=end,
        held=True,
        added_at=added_at,
    )


async def mark_live(session: AsyncSession, conference_id: int) -> Conference:
    """The bridge has launched it (called by the bridge's launch job)."""
    conference = await session.get(Conference, conference_id)
    if conference is None:
        raise ConferenceNotFound()
    if conference.status in (ConferenceStatus.REQUESTED, ConferenceStatus.CONFIRMED):
        conference.status = ConferenceStatus.LIVE
        await session.flush()
    return conference


async def mark_ended(session: AsyncSession, conference_id: int, at: datetime) -> Conference:
    """The last leg has left. Ended early, its sites are free again from `at` on."""
    conference = await session.get(Conference, conference_id)
    if conference is None:
        raise ConferenceNotFound()
    if conference.status == ConferenceStatus.LIVE:
        conference.status = ConferenceStatus.ENDED
        for hold in conference.sites:
            if at <= hold.starts_at:
                hold.held = False
            elif at < hold.ends_at:
                hold.ends_at = at
        if at < conference.ends_at:
            conference.ends_at = max(at, conference.starts_at + timedelta(seconds=1))
        await session.flush()
    return conference


async def extend_running_overruns(session: AsyncSession, *, lead: timedelta) -> int:
    """Live conferences about to reach their end get another 15 minutes (SPEC §3, overrun).

    Safe to run twice: a conference extended once runs at least 15 minutes past now, more
    than `lead`, so it is not due again.
    """
    now = utcnow()
    due = (
        await session.scalars(
            select(Conference).where(
                Conference.status == ConferenceStatus.LIVE, Conference.ends_at <= now + lead
            )
        )
    ).all()
    minutes = int(OVERRUN_STEP.total_seconds() // 60)

    async def extend_one(conference_id: int) -> None:
        await extend(session, conference_id, minutes, by=None)

    skipped = await isolation.each_in_savepoint(
        session,
        [conference.id for conference in due],
        extend_one,
        job="extend_overruns",
        name=lambda conference_id: f"conference {conference_id}",
    )
    return len(due) - len(skipped)
