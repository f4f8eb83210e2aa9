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
