"""Expanding an RFC 5545 RRULE into meeting times, in the customer's own time zone.

The rule is applied to local wall-clock times and each occurrence is then placed in the zone,
so a 09:00 meeting stays at 09:00 across daylight-saving changes (its UTC time moves).
"""

import itertools
import re
from collections.abc import Iterable, Iterator, Sequence
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


def _whole_number(value: str) -> int | None:
    """ASCII digits only: str.isdigit also accepts characters such as "²" that int() refuses."""
    return int(value) if re.fullmatch(r"[0-9]+", value) else None


def normalized_rule(rule: str) -> str:
    """The rule as stored and published (upper case, RRULE: prefix dropped); checks its shape."""
    parts = _parts(rule)
    frequency = parts.get("FREQ")
    if frequency not in ALLOWED_FREQUENCIES:
        raise InvalidRecurrence("FREQ must be DAILY, WEEKLY or MONTHLY")
    if ("COUNT" in parts) == ("UNTIL" in parts):
        raise InvalidRecurrence("give exactly one of COUNT or UNTIL")
    if "COUNT" in parts and _whole_number(parts["COUNT"]) is None:
        raise InvalidRecurrence("COUNT must be a whole number")
    # INTERVAL=0 repeats one instant; a negative one makes dateutil fail mid-expansion.
    if "INTERVAL" in parts and (_whole_number(parts["INTERVAL"]) or 0) < 1:
        raise InvalidRecurrence("INTERVAL must be a whole number of at least 1")
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
    occurrences = [
        Occurrence(index, start, start + duration)
        for index, start in enumerate(_starts(rules, local_first, zone))
    ]
    if not occurrences:
        raise InvalidRecurrence("the rule gives no occurrence")
    if occurrences[0].start != first_start.astimezone(UTC):
        raise InvalidRecurrence(
            "the first occurrence must be the conference's start (check BYDAY against the date)"
        )
    _refuse_overlaps(occurrences)
    return occurrences


def _starts(rules: Iterable[datetime], local_first: datetime, zone: ZoneInfo) -> list[datetime]:
    """The occurrences' UTC starts, within the series limits."""
    limit = local_first + MAX_SERIES_SPAN
    starts: list[datetime] = []
    for local in _walk(rules):
        if local > limit:
            raise InvalidRecurrence("a series may span at most 2 years")
        if len(starts) >= MAX_OCCURRENCES:
            raise InvalidRecurrence(f"a series may have at most {MAX_OCCURRENCES} occurrences")
        # dateutil drops the start's microseconds; put them back so the first one matches it.
        starts.append(place(local.replace(microsecond=local_first.microsecond), zone))
    return starts


def _walk(rules: Iterable[datetime]) -> Iterator[datetime]:
    """dateutil's expansion; its failures while iterating (e.g. BYDAY=9MO, an IndexError) are
    the rule's fault, told as such rather than as a server error."""
    iterator = iter(rules)
    while True:
        try:
            local = next(iterator)
        except StopIteration:
            return
        except (ValueError, OverflowError, IndexError) as error:
            raise InvalidRecurrence(f"the rule cannot be expanded: {error}") from None
        yield local


def _refuse_overlaps(occurrences: Sequence[Occurrence]) -> None:
    """Two meetings of one series would hold the same sites at once (e.g. 24 h across a DST
    change, when a day has 23 h)."""
    for current, following in itertools.pairwise(occurrences):
        if current.end > following.start:
            raise InvalidRecurrence(
                "the meetings overlap each other: the one starting "
                f"{current.start:%Y-%m-%d %H:%M} UTC runs past the next one's start "
                f"({following.start:%Y-%m-%d %H:%M} UTC); shorten the meeting or space the "
                "occurrences further apart"
            )


def place(local: datetime, zone: ZoneInfo) -> datetime:
    """A wall-clock time in the zone as UTC; a time skipped by a DST jump moves forward."""
    aware = local.replace(tzinfo=zone)
    roundtrip = aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    if roundtrip != local:  # in the spring-forward gap
        aware = (local + timedelta(hours=1)).replace(tzinfo=zone)
    return aware.astimezone(UTC)
