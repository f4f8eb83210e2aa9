"""Calendar feeds: a customer's or a site's bookings as iCalendar, series as RRULEs."""

from collections.abc import Collection, Sequence
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bridgedesk.clock import utcnow
from bridgedesk.identity import Actor
from reservations.models import Conference, ConferenceStatus, Series, Site, SiteHold
from reservations.service.icalendar import SeriesRule, build_calendar, series_rule
from reservations.service.recurrence import InvalidRecurrence
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


async def _members_by_series(
    session: AsyncSession, series_ids: Collection[int]
) -> dict[int, list[Conference]]:
    """Every meeting of these series, however old.

    A series is published whole (its RRULE reaches back to its first meeting), so every
    original start needs its meeting at hand: one beyond the feed's history would otherwise
    look missing and be excluded although it was held.
    """
    members: dict[int, list[Conference]] = {series_id: [] for series_id in series_ids}
    rows = await session.scalars(
        select(Conference)
        .where(Conference.series_id.in_(list(series_ids)))
        .order_by(Conference.starts_at)
    )
    for conference in rows:
        assert conference.series_id is not None
        members[conference.series_id].append(conference)
    return members


def _site_in_every_meeting(site_id: int, members: Sequence[Conference]) -> bool:
    live = [m for m in members if m.status != ConferenceStatus.CANCELLED]
    return all(any(h.site_id == site_id and h.held for h in m.sites) for m in live)


async def _calendar(
    session: AsyncSession,
    name: str,
    zone_name: str,
    conferences: Sequence[Conference],
    *,
    site_id: int | None,
) -> bytes:
    series_ids = sorted({c.series_id for c in conferences if c.series_id is not None})
    members = await _members_by_series(session, series_ids)
    rules: dict[int, SeriesRule] = {}
    for series_id in series_ids:
        if site_id is not None and not _site_in_every_meeting(site_id, members[series_id]):
            continue  # the site is in only some meetings of this series: list them one by one
        series = await session.get(Series, series_id)
        assert series is not None
        try:
            rules[series_id] = series_rule(series)
        except InvalidRecurrence:
            # Stored before its rule was refused (e.g. INTERVAL=0): its meetings one by one.
            continue
    visible = [
        c
        for c in conferences
        if c.series_id not in rules and c.status != ConferenceStatus.CANCELLED
    ] + [m for series_id in rules for m in members[series_id]]
    site_ids = {hold.site_id for c in visible for hold in c.sites}
    names = {
        row.id: row.name
        for row in (await session.execute(select(Site.id, Site.name).where(Site.id.in_(site_ids))))
    }
    return build_calendar(name, zone_name, visible, names, rules)
