"""iCalendar (RFC 5545) documents for bookings: feeds per customer or site, and email invites."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vRecur

from bridgedesk.clock import utcnow
from reservations.models import Conference, ConferenceStatus, Series
from reservations.service.recurrence import expand

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
    return calendar.to_ical()


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
