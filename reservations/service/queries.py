"""Reading conferences and site availability, always within what the actor may see."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bridgedesk.errors import NotFound
from bridgedesk.identity import Actor
from reservations.models import Conference, ConferenceStatus, Site, SiteHold
from reservations.service.registry import get_site


class ConferenceNotFound(NotFound):
    message = "No such conference."


@dataclass(frozen=True)
class ConferenceFilter:
    site_id: int | None = None
    ends_after: datetime | None = None
    starts_before: datetime | None = None
    status: ConferenceStatus | None = None
    customer_id: int | None = None
    requester_id: int | None = None
    limit: int = 100
    offset: int = 0


async def get_conference(session: AsyncSession, conference_id: int, *, by: Actor) -> Conference:
    conference = await session.get(Conference, conference_id)
    if conference is None or not by.may_see_customer(conference.customer_id):
        raise ConferenceNotFound()
    return conference


def _filtered(query: Select[Any], f: ConferenceFilter, by: Actor) -> Select[Any]:
    if not by.is_provider:
        query = query.where(Conference.customer_id == by.customer_id)
    if f.customer_id is not None:
        query = query.where(Conference.customer_id == f.customer_id)
    if f.status is not None:
        query = query.where(Conference.status == f.status)
    if f.requester_id is not None:
        query = query.where(Conference.requester_id == f.requester_id)
    if f.ends_after is not None:
        query = query.where(Conference.ends_at > f.ends_after)
    if f.starts_before is not None:
        query = query.where(Conference.starts_at < f.starts_before)
    if f.site_id is not None:
        query = query.where(
            exists().where(SiteHold.conference_id == Conference.id, SiteHold.site_id == f.site_id)
        )
    return query


async def list_conferences(
    session: AsyncSession, f: ConferenceFilter, *, by: Actor
) -> tuple[Sequence[Conference], int]:
    """One page of matching conferences, earliest first, and how many match in all."""
    total = await session.scalar(_filtered(select(func.count(Conference.id)), f, by)) or 0
    items = (
        await session.scalars(
            _filtered(select(Conference), f, by)
            .order_by(Conference.starts_at, Conference.id)
            .limit(f.limit)
            .offset(f.offset)
        )
    ).all()
    return items, total


@dataclass(frozen=True)
class BusyInterval:
    start: datetime
    end: datetime
    conference_number: str
    conference_id: int
    title: str


@dataclass(frozen=True)
class SiteAvailability:
    site: Site
    busy: list[BusyInterval]


async def availability(
    session: AsyncSession,
    site_ids: Sequence[int],
    start: datetime,
    end: datetime,
    *,
    by: Actor,
) -> list[SiteAvailability]:
    """When each site is held between start and end."""
    sites = [await get_site(session, site_id, by=by) for site_id in dict.fromkeys(site_ids)]
    rows = (
        await session.execute(
            select(SiteHold, Conference.number, Conference.title)
            .join(Conference, Conference.id == SiteHold.conference_id)
            .where(
                SiteHold.site_id.in_([site.id for site in sites]),
                SiteHold.held.is_(True),
                SiteHold.starts_at < end,
                SiteHold.ends_at > start,
            )
            .order_by(SiteHold.starts_at)
        )
    ).all()
    busy: dict[int, list[BusyInterval]] = {site.id: [] for site in sites}
    for hold, number, title in rows:
        busy[hold.site_id].append(
            BusyInterval(hold.starts_at, hold.ends_at, number or "", hold.conference_id, title)
        )
    return [SiteAvailability(site, busy[site.id]) for site in sites]


# What the bridge reads of bookings (bridge/service/bookings.py): plain reads without an actor, for
# the launch and supervision jobs (they act for the provider, not for a user).

# Conferences the bridge launches: booked ones (confirmed, and requested ones too: a booking
# the desk has not confirmed yet still meets at its time) and ad hoc ones.
LAUNCHABLE_STATUSES = (ConferenceStatus.REQUESTED, ConferenceStatus.CONFIRMED)


async def conferences_by_ids(session: AsyncSession, ids: Sequence[int]) -> dict[int, Conference]:
    if not ids:
        return {}
    rows = await session.scalars(select(Conference).where(Conference.id.in_(list(ids))))
    return {conference.id: conference for conference in rows}


async def conferences_by_numbers(
    session: AsyncSession, numbers: Sequence[str]
) -> dict[str, Conference]:
    found: dict[str, Conference] = {}
    unique = list(dict.fromkeys(numbers))
    for offset in range(0, len(unique), 500):
        rows = await session.scalars(
            select(Conference).where(Conference.number.in_(unique[offset : offset + 500]))
        )
        found.update({conference.number or "": conference for conference in rows})
    return found


async def due_for_launch(session: AsyncSession, now: datetime, *, until: datetime) -> list[int]:
    """Conferences starting by `until` that have not ended at `now`, never recorded ones
    (held elsewhere); earliest first. Whether the bridge has launched one already is the
    bridge's to know."""
    rows = await session.scalars(
        select(Conference.id)
        .where(
            Conference.status.in_(LAUNCHABLE_STATUSES),
            Conference.recorded.is_(False),
            Conference.starts_at <= until,
            Conference.ends_at > now,
        )
        .order_by(Conference.starts_at, Conference.id)
    )
    return list(rows)


# What billing reads: the conferences that started in a window, with what an invoice names of
# them and of their sites. Two queries whatever the number of conferences (no per-row reads).


@dataclass(frozen=True)
class BillableSite:
    site_id: int
    name: str
    billing_zone: str
    speed_kbps: int


@dataclass(frozen=True)
class BillableConference:
    id: int
    number: str
    customer_id: int
    title: str
    starts_at: datetime
    ends_at: datetime
    status: str
    recorded: bool
    project_code: str | None
    leader_name: str
    requester_name: str
    features: tuple[str, ...]
    sites: tuple[BillableSite, ...]


async def conferences_starting_between(
    session: AsyncSession, start: datetime, end: datetime, *, customer_ids: Sequence[int] | None
) -> list[BillableConference]:
    """Conferences (any status) whose start is in [start, end), of the given customers (all
    when None), earliest first, each with its booked sites' names and billing zones."""
    window = [Conference.starts_at >= start, Conference.starts_at < end]
    if customer_ids is not None:
        window.append(Conference.customer_id.in_(list(customer_ids)))
    holds = await session.execute(
        select(SiteHold.conference_id, Site.id, Site.name, Site.billing_zone, SiteHold.speed_kbps)
        .join(Site, Site.id == SiteHold.site_id)
        .join(Conference, Conference.id == SiteHold.conference_id)
        .where(*window)
        .order_by(SiteHold.id)
    )
    sites: dict[int, list[BillableSite]] = {}
    for conference_id, site_id, name, zone, speed in holds:
        sites.setdefault(conference_id, []).append(BillableSite(site_id, name, zone, speed))
    rows = await session.execute(
        select(
            Conference.id,
            Conference.number,
            Conference.customer_id,
            Conference.title,
            Conference.starts_at,
            Conference.ends_at,
            Conference.status,
            Conference.recorded,
            Conference.project_code,
            Conference.leader_name,
            Conference.requester_name,
            Conference.features,
        )
        .where(*window)
        .order_by(Conference.starts_at, Conference.id)
    )
    return [
        BillableConference(
            id=row.id,
            number=row.number or "",
            customer_id=row.customer_id,
            title=row.title,
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            status=str(row.status),
            recorded=bool(row.recorded),
            project_code=row.project_code,
            leader_name=row.leader_name,
            requester_name=row.requester_name,
            features=tuple(row.features or ()),
            sites=tuple(sites.get(row.id, ())),
        )
        for row in rows
    ]
