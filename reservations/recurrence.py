"""Expanding an RFC 5545 RRULE into meeting times, in the customer's own time zone.

The rule is applied to local wall-clock times and each occurrence is then placed in the zone,
so a 09:00 meeting stays at 09:00 across daylight-saving changes (its UTC time moves).
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import DAILY, MONTHLY, WEEKLY, rrulestr

# "Daily, weekly with weekdays, monthly by day, COUNT or UNTIL, at most 2 years" (SPEC §3).
ALLOWED_FREQUENCIES = {"DAILY": DAILY, "WEEKLY": WEEKLY, "MONTHLY": MONTHLY}
MAX_SERIES_SPAN = timedelta(days=731)
MAX_OCCURRENCES = 800
_ALLOWED_PARTS = {"FREQ", "INTERVAL", "COUNT", "UNTIL", "BYDAY", "BYMONTHDAY", "BYSETPOS", "WKST"}


class InvalidRecurrence(ValueError):
    """The rule is not one the service books; the message says why."""


@dataclass(frozen=True)
class Occurrence:
    index: int
    start: datetime  # aware UTC
    end: datetime


def _parts(rule: str) -> dict[str, str]:
    text = rule.strip()
    text = text.removeprefix("RRULE:")
    parts: dict[str, str] = {}
    for item in text.split(";"):
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep or not value:
            raise InvalidRecurrence(f"malformed rule part {item!r}")
        key = key.strip().upper()
        if key not in _ALLOWED_PARTS:
            raise InvalidRecurrence(f"rule part {key} is not supported")
        parts[key] = value.strip().upper()
    return parts


def _local_until(value: str, zone: ZoneInfo) -> datetime:
    """UNTIL as a naive local time: a UTC value (trailing Z) is converted, a date is end of day."""
    if re.fullmatch(r"\d{8}", value):
        return datetime.strptime(value, "%Y%m%d").replace(hour=23, minute=59, second=59)  # noqa: DTZ007 - local wall time by design
    if re.fullmatch(r"\d{8}T\d{6}Z", value):
        instant = datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        return instant.astimezone(zone).replace(tzinfo=None)
    if re.fullmatch(r"\d{8}T\d{6}", value):
        return datetime.strptime(value, "%Y%m%dT%H%M%S")  # noqa: DTZ007 - local wall time by design
    raise InvalidRecurrence(f"UNTIL {value!r} is not an RFC 5545 date or date-time")


def normalized_rule(rule: str) -> str:
    """The rule as stored and published (upper case, RRULE: prefix dropped); checks its shape."""
    parts = _parts(rule)
    frequency = parts.get("FREQ")
    if frequency not in ALLOWED_FREQUENCIES:
        raise InvalidRecurrence("FREQ must be DAILY, WEEKLY or MONTHLY")
    if ("COUNT" in parts) == ("UNTIL" in parts):
        raise InvalidRecurrence("give exactly one of COUNT or UNTIL")
    if "COUNT" in parts and not parts["COUNT"].isdigit():
        raise InvalidRecurrence("COUNT must be a whole number")
    return ";".join(f"{key}={value}" for key, value in parts.items())


def canonical_rule(rule: str, zone: ZoneInfo) -> str:
    """The rule as stored and published: UNTIL in UTC, as RFC 5545 wants beside a TZID."""
    parts = _parts(normalized_rule(rule))
    if "UNTIL" in parts:
        local = _local_until(parts["UNTIL"], zone).replace(tzinfo=zone)
        parts["UNTIL"] = local.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return ";".join(f"{key}={value}" for key, value in parts.items())


def expand(
    rule: str, first_start: datetime, duration: timedelta, zone: ZoneInfo
) -> list[Occurrence]:
    """Every occurrence of `rule` from `first_start`, each lasting `duration`."""
    parts = _parts(normalized_rule(rule))
    local_first = first_start.astimezone(zone).replace(tzinfo=None)
    if "UNTIL" in parts:
        parts["UNTIL"] = _local_until(parts["UNTIL"], zone).strftime("%Y%m%dT%H%M%S")
    text = ";".join(f"{key}={value}" for key, value in parts.items())
    try:
        rules = rrulestr(text, dtstart=local_first)
    except (ValueError, TypeError) as error:
        raise InvalidRecurrence(f"the rule cannot be read: {error}") from None
    limit = local_first + MAX_SERIES_SPAN
    occurrences: list[Occurrence] = []
    for index, local in enumerate(rules):
        if local > limit:
            raise InvalidRecurrence("a series may span at most 2 years")
        if index >= MAX_OCCURRENCES:
            raise InvalidRecurrence(f"a series may have at most {MAX_OCCURRENCES} occurrences")
        start = _place(local, zone)
        occurrences.append(Occurrence(index, start, start + duration))
    if not occurrences:
        raise InvalidRecurrence("the rule gives no occurrence")
    if occurrences[0].start != first_start.astimezone(UTC):
        raise InvalidRecurrence(
            "the first occurrence must be the conference's start (check BYDAY against the date)"
        )
    return occurrences


def _place(local: datetime, zone: ZoneInfo) -> datetime:
    """A wall-clock time in the zone as UTC; a time skipped by a DST jump moves forward."""
    aware = local.replace(tzinfo=zone)
    roundtrip = aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    if roundtrip != local:  # in the spring-forward gap
        aware = (local + timedelta(hours=1)).replace(tzinfo=zone)
    return aware.astimezone(UTC)
