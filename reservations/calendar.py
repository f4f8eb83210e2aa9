"""iCalendar (RFC 5545) documents for bookings: feeds per customer or site, and email invites."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vRecur

from reservations.models import Conference, ConferenceStatus

PRODID = "-//bridgedesk//reservations//EN"
_STATUS = {
    ConferenceStatus.REQUESTED: "TENTATIVE",
    ConferenceStatus.CONFIRMED: "CONFIRMED",
    ConferenceStatus.LIVE: "CONFIRMED",
    ConferenceStatus.ENDED: "CONFIRMED",
    ConferenceStatus.CANCELLED: "CANCELLED",
}


@dataclass(frozen=True)
class SeriesRule:
    """What a series' master event needs: its rule and its untouched occurrence starts."""

    series_id: int
    rrule: str
    first_start: datetime
    occurrence_starts: Sequence[datetime]  # original starts of every expanded occurrence


def uid(conference: Conference) -> str:
    if conference.series_id is not None:
        return f"series-{conference.series_id}@bridgedesk"
    return f"{conference.number}@bridgedesk"


def _event(
    conference: Conference,
    zone: ZoneInfo,
    site_names: dict[int, str],
    *,
    start: datetime | None = None,
    end: datetime | None = None,
) -> Event:
    event = Event()
    event.add("uid", uid(conference))
    event.add("dtstamp", conference.booked_at)
    event.add("dtstart", (start or conference.starts_at).astimezone(zone))
    event.add("dtend", (end or conference.ends_at).astimezone(zone))
    event.add("summary", f"{conference.title} ({conference.number})")
    event.add("status", _STATUS[ConferenceStatus(conference.status)])
    event.add(
        "location",
        ", ".join(site_names.get(h.site_id, f"site {h.site_id}") for h in conference.sites),
    )
    event.add(
        "description",
        f"Conference {conference.number}, led by {conference.leader_name}, "
        f"booked by {conference.requester_name}. Status: {conference.status}.",
    )
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
    zone = ZoneInfo(zone_name)
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
            calendar.add_component(_event(conference, zone, site_names))
    for series_id, members in by_series.items():
        assert series is not None
        for component in _series_events(series[series_id], members, zone, site_names):
            calendar.add_component(component)
    calendar.add_missing_timezones()
    return calendar.to_ical()


def _series_events(
    rule: SeriesRule, members: list[Conference], zone: ZoneInfo, site_names: dict[int, str]
) -> list[Event]:
    by_original = {m.occurrence_start: m for m in members if m.occurrence_start is not None}
    first = by_original.get(rule.first_start) or min(members, key=lambda m: m.starts_at)
    # The master carries the series' first original time, whatever happened to that meeting.
    duration = first.ends_at - first.starts_at
    master = _event(
        first, zone, site_names, start=rule.first_start, end=rule.first_start + duration
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
            override = _event(member, zone, site_names)
            override.add("recurrence-id", original.astimezone(zone))
            events.append(override)
    return events
