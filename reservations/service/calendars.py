"""Calendar feeds: a customer's or a site's bookings as iCalendar, series as RRULEs."""

from collections.abc import Sequence
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bridgedesk.clock import utcnow
from bridgedesk.identity import Actor
from reservations.calendar import SeriesRule, build_calendar
from reservations.models import Conference, ConferenceStatus, Series, Site, SiteHold
from reservations.recurrence import expand
from reservations.service.registry import get_customer, get_site

# Feeds show what is coming and the recent past, not a customer's whole history.
FEED_HISTORY = timedelta(days=90)


async def customer_feed(session: AsyncSession, customer_id: int, *, by: Actor) -> bytes:
    customer = await get_customer(session, customer_id, by=by)
    conferences = (
        await session.scalars(
            select(Conference)
            .where(
                Conference.customer_id == customer.id,
                Conference.ends_at > utcnow() - FEED_HISTORY,
            )
            .order_by(Conference.starts_at)
        )
    ).all()
    return await _calendar(
        session, f"{customer.name} conferences", customer.timezone, conferences, site_id=None
    )


async def site_feed(session: AsyncSession, site_id: int, *, by: Actor) -> bytes:
    site = await get_site(session, site_id, by=by)
    conferences = (
        await session.scalars(
            select(Conference)
            .join(SiteHold, SiteHold.conference_id == Conference.id)
            .where(SiteHold.site_id == site.id, Conference.ends_at > utcnow() - FEED_HISTORY)
            .order_by(Conference.starts_at)
        )
    ).all()
    return await _calendar(
        session, f"{site.name} bookings", site.timezone, conferences, site_id=site.id
    )


async def _calendar(
    session: AsyncSession,
    name: str,
    zone_name: str,
    conferences: Sequence[Conference],
    *,
    site_id: int | None,
) -> bytes:
    site_ids = {hold.site_id for c in conferences for hold in c.sites}
    names = {
        row.id: row.name
        for row in (await session.execute(select(Site.id, Site.name).where(Site.id.in_(site_ids))))
    }
    rules: dict[int, SeriesRule] = {}
    for series_id in {c.series_id for c in conferences if c.series_id is not None}:
        series = await session.get(Series, series_id)
        assert series is not None
        members = [c for c in conferences if c.series_id == series_id]
        live = [m for m in members if m.status != ConferenceStatus.CANCELLED]
        if site_id is not None and not all(
            any(h.site_id == site_id and h.held for h in m.sites) for m in live
        ):
            continue  # the site is in only some meetings of this series: list them one by one
        zone = ZoneInfo(series.timezone)
        originals = [
            o.start
            for o in expand(
                series.rrule, series.first_start, timedelta(minutes=series.duration_minutes), zone
            )
        ]
        rules[series_id] = SeriesRule(series_id, series.rrule, series.first_start, originals)
    visible = [
        c for c in conferences if c.series_id in rules or c.status != ConferenceStatus.CANCELLED
    ]
    return build_calendar(name, zone_name, visible, names, rules)
