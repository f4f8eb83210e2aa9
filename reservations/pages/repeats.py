"""The booking form's Repeats section: the RFC 5545 rule its fields describe, and rules in words.

The rule is built here only from what the user chose; expanding it, its limits (2 years,
COUNT or UNTIL) and booking it are the series service's business.
"""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from starlette.datastructures import ImmutableMultiDict

from bridgedesk.errors import InvalidInput

# RFC 5545 weekday codes in `date.weekday()` order, and how people say them.
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
ORDINALS = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth", -1: "last"}
FREQUENCIES = {"daily": "DAILY", "weekly": "WEEKLY", "monthly": "MONTHLY"}
# How a monthly meeting finds its day: the date's day of the month, its weekday's place in
# the month (the 2nd Tuesday), or the last such weekday (the last Friday).
MONTHLY_BY = ("day", "weekday", "last")
ENDS = ("count", "until")


def _text(fields: ImmutableMultiDict[str, Any], name: str) -> str:
    value = fields.get(name)
    return value.strip() if isinstance(value, str) else ""


@dataclass
class RepeatForm:
    """The Repeats fields as typed; a blank frequency is a single meeting."""

    frequency: str = ""
    weekdays: list[str] = field(default_factory=list)
    monthly_by: str = "day"
    ends: str = "count"
    count: str = ""
    until: str = ""
    skip_conflicts: bool = False

    @classmethod
    def from_fields(cls, fields: ImmutableMultiDict[str, Any]) -> "RepeatForm":
        weekdays = {v.strip().upper() for v in fields.getlist("weekday") if isinstance(v, str)}
        return cls(
            frequency=_text(fields, "repeat").lower(),
            weekdays=[code for code in WEEKDAYS if code in weekdays],
            monthly_by=_text(fields, "monthly_by") or "day",
            ends=_text(fields, "ends") or "count",
            count=_text(fields, "count"),
            until=_text(fields, "until"),
            skip_conflicts=bool(_text(fields, "skip_conflicts")),
        )

    def rule(self, first_day: date) -> str:
        """FREQ, its days and COUNT or UNTIL (a date), for a series whose first meeting is then."""
        if self.frequency not in FREQUENCIES:
            raise InvalidInput("Choose daily, weekly or monthly, or that it does not repeat.")
        parts = [f"FREQ={FREQUENCIES[self.frequency]}"]
        weekday = WEEKDAYS[first_day.weekday()]
        name = WEEKDAY_NAMES[first_day.weekday()]
        if self.frequency == "weekly":
            days = self.weekdays or [weekday]
            if weekday not in days:
                raise InvalidInput(
                    f"The first meeting is on a {name}: tick {name} too, or change the date."
                )
            parts.append("BYDAY=" + ",".join(days))
        elif self.frequency == "monthly":
            parts.append(_monthly_part(self.monthly_by, first_day))
        parts.append(self._end_part(first_day))
        return ";".join(parts)

    def _end_part(self, first_day: date) -> str:
        if self.ends == "until":
            try:
                last = date.fromisoformat(self.until)
            except ValueError:
                raise InvalidInput("Give the date of the last meeting.") from None
            if last < first_day:
                raise InvalidInput("The series cannot end before its first meeting.")
            return f"UNTIL={last:%Y%m%d}"
        if self.ends != "count":
            raise InvalidInput("Say whether the series ends after a number of meetings or a date.")
        if not (self.count.isascii() and self.count.isdigit() and 0 < len(self.count) <= 6):
            raise InvalidInput("Give the number of meetings as a whole number.")
        if int(self.count) < 1:
            raise InvalidInput("A series has at least one meeting.")
        return f"COUNT={int(self.count)}"


def _monthly_part(monthly_by: str, first_day: date) -> str:
    weekday = WEEKDAYS[first_day.weekday()]
    if monthly_by == "day":
        return f"BYMONTHDAY={first_day.day}"
    if monthly_by == "weekday":
        return f"BYDAY={(first_day.day - 1) // 7 + 1}{weekday}"
    if monthly_by == "last":
        if (first_day + timedelta(days=7)).month == first_day.month:
            raise InvalidInput(
                f"{first_day} is not the last {WEEKDAY_NAMES[first_day.weekday()]} of its month."
            )
        return f"BYDAY=-1{weekday}"
    raise InvalidInput("Choose how a monthly meeting finds its day.")


def _parts(rule: str) -> dict[str, str]:
    pairs = (item.partition("=") for item in rule.removeprefix("RRULE:").split(";") if item)
    return {key.strip().upper(): value.strip().upper() for key, _, value in pairs}


def _day_names(codes: str) -> list[str]:
    """BYDAY codes, each optionally with its place in the month ("2TU", "-1FR"), in words."""
    names = []
    for code in codes.split(","):
        place, weekday = code[:-2], code[-2:]
        if weekday not in WEEKDAYS:
            raise ValueError(code)
        name = WEEKDAY_NAMES[WEEKDAYS.index(weekday)]
        names.append(f"the {ORDINALS[int(place)]} {name}" if place else name)
    return names


def _joined(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _every(interval: int, unit: str, adverb: str) -> str:
    return adverb if interval == 1 else f"Every {interval} {unit}s"


def _until_day(value: str, zone: ZoneInfo) -> date:
    """UNTIL as the local date of the last meeting: a date, or a UTC date-time (as stored)."""
    if value.endswith("Z"):
        instant = datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        return instant.astimezone(zone).date()
    return datetime.strptime(value[:8], "%Y%m%d").date()  # noqa: DTZ007 - a calendar date


def describe_rule(rule: str, zone: ZoneInfo) -> str:
    """ "Weekly on Monday, 4 times": a rule as the series page and the preview say it."""
    try:
        parts = _parts(rule)
        interval = int(parts.get("INTERVAL", "1"))
        frequency = parts["FREQ"]
        if frequency == "DAILY":
            words = _every(interval, "day", "Daily")
        elif frequency == "WEEKLY":
            words = _every(interval, "week", "Weekly")
            if "BYDAY" in parts:
                words += " on " + _joined(_day_names(parts["BYDAY"]))
        elif frequency == "MONTHLY":
            words = _every(interval, "month", "Monthly")
            if "BYMONTHDAY" in parts:
                words += f" on day {_joined(parts['BYMONTHDAY'].split(','))}"
            elif "BYDAY" in parts:
                words += " on " + _joined(_day_names(parts["BYDAY"]))
        else:
            return rule
        if "COUNT" in parts:
            count = int(parts["COUNT"])
            return words + (", once" if count == 1 else f", {count} times")
        if "UNTIL" in parts:
            return words + f", until {_until_day(parts['UNTIL'], zone):%Y-%m-%d}"
    except (KeyError, ValueError):
        return rule
    return words
