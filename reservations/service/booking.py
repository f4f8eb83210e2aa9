"""Booking and cancelling conferences without ever double-booking a site."""

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bridgedesk.clock import utcnow
from bridgedesk.errors import Conflict, Forbidden, InvalidInput
from bridgedesk.identity import Actor, Role
from reservations.models import Conference, ConferenceStatus, Customer, Site, SiteHold
from reservations.service import capacity, notifications
from reservations.service.confirmation import confirm_automatically_if_eligible
from reservations.service.deadlines import confirmation_due
from reservations.service.registry import customer_zone, get_customer, sites_by_id

# "At most 24 h" per conference (SPEC §3).
MAX_CONFERENCE_LENGTH = timedelta(hours=24)
# Exclusion-constraint violation on PostgreSQL.
_EXCLUSION_VIOLATION = "23P01"

# What the text columns hold; the API schema and the page forms take their bounds from here.
MAX_NAME = 200
MAX_PROJECT_CODE = 60

BOOKING_ROLES = frozenset({Role.ADMIN, Role.OPERATOR, Role.SCHEDULER})
# A booking can be cancelled or moved only before it starts.
CANCELLABLE_STATUSES = (ConferenceStatus.REQUESTED, ConferenceStatus.CONFIRMED)
RECORDING_ROLES = frozenset({Role.ADMIN, Role.OPERATOR})


class SitesBusy(Conflict):
    message = "One or more sites are already booked at that time."


class InvalidBooking(InvalidInput):
    message = "The booking is not valid."


class NotCancellable(Conflict):
    message = "This conference can no longer be cancelled."


@dataclass(frozen=True)
class SiteRequest:
    site_id: int
    speed_kbps: int | None = None


@dataclass(frozen=True)
class BookingRequest:
    customer_id: int
    title: str
    leader_name: str
    start: datetime
    end: datetime
    sites: Sequence[SiteRequest]
    project_code: str | None = None
    features: Sequence[str] = field(default_factory=tuple)
    record: bool = False


@dataclass(frozen=True)
class SiteConflict:
    site_id: int
    site_name: str
    conference_number: str
    start: datetime
    end: datetime
    conference_id: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "site_id": self.site_id,
            "site_name": self.site_name,
            "conference_number": self.conference_number,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
        }


def check_times(start: datetime, end: datetime) -> None:
    """The shape rules every booking obeys, whoever makes it."""
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidBooking("Times must carry a UTC offset.")
    if end <= start:
        raise InvalidBooking("The conference must end after it starts.")
    if end - start > MAX_CONFERENCE_LENGTH:
        raise InvalidBooking("A conference may last at most 24 hours.")


async def find_conflicts(
    session: AsyncSession,
    site_ids: Sequence[int],
    start: datetime,
    end: datetime,
    *,
    excluding_conference: int | None = None,
) -> list[SiteConflict]:
    """Every held booking of these sites that overlaps [start, end); back-to-back is fine."""
    if not site_ids:
        return []
    query = (
        select(SiteHold, Conference.number, Site.name)
        .join(Conference, Conference.id == SiteHold.conference_id)
        .join(Site, Site.id == SiteHold.site_id)
        .where(
            SiteHold.site_id.in_(site_ids),
            SiteHold.held.is_(True),
            SiteHold.starts_at < end,
            SiteHold.ends_at > start,
        )
        .order_by(SiteHold.starts_at, SiteHold.site_id)
    )
    if excluding_conference is not None:
        query = query.where(SiteHold.conference_id != excluding_conference)
    rows = (await session.execute(query)).all()
    return [
        SiteConflict(
            hold.site_id,
            site_name,
            number or "",
            hold.starts_at,
            hold.ends_at,
            hold.conference_id,
        )
        for hold, number, site_name in rows
    ]


def describe_conflicts(conflicts: Sequence[SiteConflict]) -> str:
    return "; ".join(
        f"{c.site_name} is held by {c.conference_number} "
        f"({c.start:%Y-%m-%d %H:%M}-{c.end:%H:%M} UTC)"
        for c in conflicts
    )


def sites_busy(conflicts: Sequence[SiteConflict], *, refused: str = "Not booked") -> SitesBusy:
    return SitesBusy(
        f"{refused}: {describe_conflicts(conflicts)}.",
        conflicts=[conflict.as_dict() for conflict in conflicts],
    )


@dataclass(frozen=True)
class ChosenSite:
    site: Site
    speed_kbps: int


async def requested_sites(
    session: AsyncSession,
    customer_id: int,
    requests: Sequence[SiteRequest],
    *,
    lock: bool = True,
) -> list[ChosenSite]:
    """Each requested site with its speed; unknown and other customers' sites are 422.

    With `lock` (every write path) the sites stay locked until the transaction ends, so that
    bookings of one site queue; previews read without locking.
    """
    if not requests:
        raise InvalidBooking("A conference needs at least one site.")
    ids = [r.site_id for r in requests]
    if len(set(ids)) != len(ids):
        raise InvalidBooking("A site is listed more than once.")
    found = await sites_by_id(session, ids, lock=lock)
    unknown = [i for i in ids if i not in found or found[i].customer_id != customer_id]
    if unknown:
        raise InvalidBooking(
            "These sites do not exist or belong to another customer: "
            + ", ".join(str(i) for i in unknown),
            site_ids=unknown,
        )
    chosen = []
    for request in requests:
        site = found[request.site_id]
        speed = request.speed_kbps or site.max_speed_kbps
        if speed > site.max_speed_kbps:
            raise InvalidBooking(
                f"{site.name} connects at most at {site.max_speed_kbps} kbps.",
                site_ids=[site.id],
            )
        chosen.append(ChosenSite(site, speed))
    return chosen


def _bounded(label: str, value: str, least: int, most: int) -> None:
    # PostgreSQL refuses NUL in text, so it is a 422 on every database rather than a 500 there.
    if not least <= len(value) <= most or "\x00" in value:
        raise InvalidBooking(f"Give the {label} in {least} to {most} characters.")


def check_text(title: str, leader_name: str, project_code: str | None = None) -> None:
    """The free text a booking stores, within what its columns hold, whoever sends it."""
    _bounded("title", title, 1, MAX_NAME)
    _bounded("leader's name", leader_name, 1, MAX_NAME)
    _bounded("project code", project_code or "", 0, MAX_PROJECT_CODE)


def may_book(by: Actor) -> bool:
    return by.role in BOOKING_ROLES


def require_booker(by: Actor, doing: str) -> None:
    """Forbidden unless `by` is a role that books and changes conferences."""
    if not may_book(by):
        raise Forbidden(f"Your role may not {doing}.")


def may_cancel(by: Actor, conference: Conference) -> bool:
    return may_book(by) and conference.status in CANCELLABLE_STATUSES


def check_may_book(request: BookingRequest, by: Actor) -> None:
    require_booker(by, "book conferences")
    if request.record and by.role not in RECORDING_ROLES:
        raise Forbidden("Only operators record conferences that were already held.")


def new_conference(
    request: BookingRequest,
    customer: Customer,
    chosen: Sequence[ChosenSite],
    *,
    start: datetime,
    end: datetime,
    by: Actor,
    booked_at: datetime,
    status: ConferenceStatus,
) -> Conference:
    return Conference(
        customer_id=customer.id,
        title=request.title,
        leader_name=request.leader_name,
        requester_id=by.user_id,
        requester_name=by.name,
        project_code=request.project_code,
        features=list(request.features),
        starts_at=start,
        ends_at=end,
        status=status,
        recorded=request.record,
        booked_at=booked_at,
        adhoc=False,
        overflow=False,
        sites=[
            SiteHold(
                site_id=c.site.id, speed_kbps=c.speed_kbps, starts_at=start, ends_at=end, held=True
            )
            for c in chosen
        ],
    )


class HoldCollided(Exception):
    """A site hold written in `changing_holds` met another booking's in the database."""


@asynccontextmanager
async def changing_holds(session: AsyncSession) -> AsyncIterator[None]:
    """Add or change site holds inside a savepoint, flushed at the end of the block.

    A hold that overlaps another booking's (the exclusion constraint on PostgreSQL) raises
    HoldCollided and leaves the transaction usable, so the caller can say which booking is
    in the way. Make the changes inside the block: beginning a savepoint flushes whatever is
    pending, which would run those writes outside it.
    """
    try:
        async with session.begin_nested():
            yield
            await session.flush()
    except IntegrityError as error:
        if getattr(error.orig, "sqlstate", None) != _EXCLUSION_VIOLATION:
            raise
        raise HoldCollided() from None


async def insert_conference(session: AsyncSession, conference: Conference) -> Conference:
    """Write the conference and its holds; a site taken meanwhile is SitesBusy, not a 500.

    Two bookings that both passed the conflict check race here; on PostgreSQL the
    exclusion constraint lets exactly one through.
    """
    try:
        async with changing_holds(session):
            session.add(conference)
    except HoldCollided:
        site_ids = [hold.site_id for hold in conference.sites]
        raise sites_busy(
            await find_conflicts(session, site_ids, conference.starts_at, conference.ends_at)
        ) from None
    conference.number = f"C-{conference.booked_at.year}-{conference.id:06d}"
    await session.flush()
    return conference


def check_future(start: datetime) -> None:
    if start <= utcnow():
        raise InvalidBooking("The start is in the past; book a future time or an ad hoc call.")


async def preview_conflicts(
    session: AsyncSession, request: BookingRequest, *, by: Actor
) -> list[SiteConflict]:
    """What `book` would answer about taken sites, without writing or locking anything."""
    check_may_book(request, by)
    customer = await get_customer(session, request.customer_id, by=by)
    check_times(request.start, request.end)
    check_future(request.start)
    chosen = await requested_sites(session, customer.id, request.sites, lock=False)
    return await find_conflicts(session, [c.site.id for c in chosen], request.start, request.end)


async def book(session: AsyncSession, request: BookingRequest, *, by: Actor) -> Conference:
    """Book a conference, all sites or none; a taken site is a 409 naming every conflict."""
    check_may_book(request, by)
    check_text(request.title, request.leader_name, request.project_code)
    customer = await get_customer(session, request.customer_id, by=by)
    check_times(request.start, request.end)
    now = utcnow()
    if request.record:
        if request.end > now:
            raise InvalidBooking("A recorded conference must already be over.")
    else:
        check_future(request.start)
    chosen = await requested_sites(session, customer.id, request.sites)

    conflicts = await find_conflicts(
        session, [c.site.id for c in chosen], request.start, request.end
    )
    if conflicts:
        raise sites_busy(conflicts)
    conference = new_conference(
        request,
        customer,
        chosen,
        start=request.start,
        end=request.end,
        by=by,
        booked_at=now,
        status=ConferenceStatus.ENDED if request.record else ConferenceStatus.REQUESTED,
    )
    if not request.record:
        placement = await capacity.place_scheduled(
            session, [(request.start, request.end)], len(chosen)
        )
        conference.bridge_id = placement.bridge_id
        conference.confirmation_due = confirmation_due(now, request.start, customer_zone(customer))
    await insert_conference(session, conference)
    if not request.record:
        await confirm_automatically_if_eligible(session, conference, [c.site for c in chosen])
        await notifications.booking_received(
            session,
            conference,
            requester_email=by.email,
            zone=customer.timezone,
            site_names={c.site.id: c.site.name for c in chosen},
        )
    return conference


async def release(session: AsyncSession, conference: Conference) -> None:
    """Cancel one conference and free its sites at once."""
    if conference.status not in CANCELLABLE_STATUSES:
        raise NotCancellable(f"{conference.number} is {conference.status}; it cannot be cancelled.")
    conference.status = ConferenceStatus.CANCELLED
    conference.cancelled_at = utcnow()
    for hold in conference.sites:
        hold.held = False
