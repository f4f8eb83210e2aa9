"""Calendars (RFC 5545): the iCalendar documents for bookings (series as RRULE with EXDATE and
RECURRENCE-ID, email invitations) and the feeds per customer or site that serve them."""

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vRecur
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bridgedesk.clock import utcnow
from bridgedesk.identity import Actor
from reservations.models import Conference, ConferenceStatus, Series, Site, SiteHold
from reservations.service.recurrence import InvalidRecurrence, expand
from reservations.service.registry import get_customer, get_site

PRODID = "-//bridgedesk//reservations//EN"
_STATUS = {
    ConferenceStatus.REQUESTED: "TENTATIVE",
    ConferenceStatus.CONFIRMED: "CONFIRMED",
    ConferenceStatus.LIVE: "CONFIRMED",
    ConferenceStatus.ENDED: "CONFIRMED",
    ConferenceStatus.CANCELLED: "CANCELLED",
}
# SEQUENCE must grow with every revision an invitee may hold. No revision is counted, so it is
# derived from the lifecycle: booked < confirmed < cancelled, and a meeting away from its
# series' original time ranks above every unmoved version of it. (Two versions that tie, e.g.
# moved twice, are told apart by DTSTAMP, which is always the time of sending.)
_STATUS_REVISION = {
    ConferenceStatus.REQUESTED: 0,
    ConferenceStatus.CONFIRMED: 1,
    ConferenceStatus.LIVE: 1,
    ConferenceStatus.ENDED: 1,
    ConferenceStatus.CANCELLED: 2,
}
_MOVED_REVISION = 2


@dataclass(frozen=True)
class SeriesRule:
    """What a series' master event needs: its rule, the zone the rule's wall-clock times are
    in, and its untouched occurrence starts."""

    series_id: int
    rrule: str
    first_start: datetime
    occurrence_starts: Sequence[datetime]  # original starts of every expanded occurrence
    timezone: str
    duration: timedelta


def series_rule(series: Series) -> SeriesRule:
    zone = ZoneInfo(series.timezone)
    duration = timedelta(minutes=series.duration_minutes)
    originals = [o.start for o in expand(series.rrule, series.first_start, duration, zone)]
    return SeriesRule(
        series.id, series.rrule, series.first_start, originals, series.timezone, duration
    )


def uid(conference: Conference) -> str:
    if conference.series_id is not None:
        return f"series-{conference.series_id}@bridgedesk"
    return f"{conference.number}@bridgedesk"


def sequence(conference: Conference) -> int:
    moved = (
        conference.occurrence_start is not None
        and conference.starts_at != conference.occurrence_start
    )
    return _STATUS_REVISION[ConferenceStatus(conference.status)] + (_MOVED_REVISION if moved else 0)


@dataclass(frozen=True)
class _Context:
    zone: ZoneInfo
    site_names: dict[int, str]
    stamp: datetime


def _event(
    conference: Conference,
    context: _Context,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    revision: int | None = None,
) -> Event:
    zone = context.zone
    event = Event()
    event.add("uid", uid(conference))
    event.add("dtstamp", context.stamp)
    event.add("sequence", sequence(conference) if revision is None else revision)
    event.add("dtstart", (start or conference.starts_at).astimezone(zone))
    event.add("dtend", (end or conference.ends_at).astimezone(zone))
    event.add("summary", f"{conference.title} ({conference.number})")
    event.add("status", _STATUS[ConferenceStatus(conference.status)])
    event.add(
        "location",
        ", ".join(context.site_names.get(h.site_id, f"site {h.site_id}") for h in conference.sites),
    )
    event.add(
        "description",
        f"Conference {conference.number}, led by {conference.leader_name}, "
        f"booked by {conference.requester_name}. Status: {conference.status}.",
    )
    return event


def _single_event(conference: Conference, context: _Context) -> Event:
    """A conference on its own; a series member keeps its series' UID and is told apart from
    its siblings by its original start, so that one meeting's invitation replaces only it."""
    event = _event(conference, context)
    if conference.series_id is not None and conference.occurrence_start is not None:
        event.add("recurrence-id", conference.occurrence_start.astimezone(context.zone))
    return event


def build_calendar(
    name: str,
    zone_name: str,
    conferences: Iterable[Conference],
    site_names: dict[int, str],
    series: dict[int, SeriesRule] | None = None,
) -> bytes:
    """A calendar of these conferences; a series is one event with its RRULE, its moved
    occurrences as RECURRENCE-ID overrides and its cancelled or missing ones as EXDATEs."""
    context = _Context(ZoneInfo(zone_name), site_names, utcnow())
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", name)
    calendar.add("x-wr-timezone", zone_name)
    by_series: dict[int, list[Conference]] = {}
    for conference in conferences:
        if conference.series_id is not None and series and conference.series_id in series:
            by_series.setdefault(conference.series_id, []).append(conference)
        else:
            calendar.add_component(_single_event(conference, context))
    for series_id, members in by_series.items():
        assert series is not None
        rule = series[series_id]
        # A client expands the RRULE in DTSTART's zone: it must be the zone the rule was
        # expanded in, or the meetings after a DST change land an hour off.
        rule_context = _Context(ZoneInfo(rule.timezone), site_names, context.stamp)
        for component in _series_events(rule, members, rule_context):
            calendar.add_component(component)
    calendar.add_missing_timezones()
    ical: bytes = calendar.to_ical()  # icalendar annotates it loosely (Any)
    return ical


def _series_events(rule: SeriesRule, members: list[Conference], context: _Context) -> list[Event]:
    zone = context.zone
    by_original = {m.occurrence_start: m for m in members if m.occurrence_start is not None}
    # The master's details come from the first meeting still on (a cancelled one would mark
    # the whole series cancelled); its time is the series' first original one, whatever
    # happened to that meeting.
    on = [m for m in members if m.status != ConferenceStatus.CANCELLED] or members
    first = by_original.get(rule.first_start)
    if first is None or first not in on:
        first = min(on, key=lambda m: m.starts_at)
    duration = rule.duration
    master = _event(
        first,
        context,
        start=rule.first_start,
        end=rule.first_start + duration,
        revision=_STATUS_REVISION[ConferenceStatus(first.status)],
    )
    master.add("rrule", vRecur.from_ical(rule.rrule))
    events = [master]
    for original in rule.occurrence_starts:
        member = by_original.get(original)
        live = member is not None and member.status != ConferenceStatus.CANCELLED
        if not live:
            master.add("exdate", original.astimezone(zone))
            continue
        assert member is not None
        moved = member.starts_at != original or member.ends_at - member.starts_at != duration
        if moved or member.status != first.status:
            override = _event(member, context)
            override.add("recurrence-id", original.astimezone(zone))
            events.append(override)
    return events


# -- feeds --

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
