"""Business-hours clocks: adding N working minutes to an instant on a calendar of weekdays,
opening hours, a time zone and public holidays, skipping pauses (waiting on the customer)."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from monitoring.service.intervals import Interval, difference

# Clocks looking further ahead than this are refused: a calendar with no working time at all
# (no weekdays, every day a holiday) must fail loudly instead of looping.
HORIZON = timedelta(days=3 * 366)
_CHUNK = timedelta(days=14)


@lru_cache(maxsize=256)
def _holiday_dates(country: str, subdiv: str | None, year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays(country, subdiv=subdiv, years=year).keys())


@dataclass(frozen=True)
class BusinessCalendar:
    """Working time: `weekdays` (0 = Monday) from `opens` to `closes` local time in `zone`,
    except public holidays of `holiday_country`/`holiday_subdiv`. A `closes` at or before
    `opens` means the day's window runs overnight into the next calendar day."""

    zone: str
    weekdays: frozenset[int] = field(default_factory=lambda: frozenset(range(5)))
    opens: time = time(8, 0)
    closes: time = time(17, 0)
    holiday_country: str | None = None
    holiday_subdiv: str | None = None

    def is_holiday(self, day: date) -> bool:
        if self.holiday_country is None:
            return False
        return day in _holiday_dates(self.holiday_country, self.holiday_subdiv, day.year)

    def is_working_day(self, day: date) -> bool:
        return day.weekday() in self.weekdays and not self.is_holiday(day)

    def windows(self, start: datetime, end: datetime) -> list[Interval]:
        """The working intervals (UTC) that meet [start, end), clipped to it."""
        zone = ZoneInfo(self.zone)
        out: list[Interval] = []
        # Start a day early: yesterday's overnight window may still be open at `start`.
        day = start.astimezone(zone).date() - timedelta(days=1)
        last = end.astimezone(zone).date()
        while day <= last:
            if self.is_working_day(day):
                opening = datetime.combine(day, self.opens, tzinfo=zone)
                closing_day = day + timedelta(days=1) if self.closes <= self.opens else day
                closing = datetime.combine(closing_day, self.closes, tzinfo=zone)
                window_start = max(opening.astimezone(ZoneInfo("UTC")), start)
                window_end = min(closing.astimezone(ZoneInfo("UTC")), end)
                if window_start < window_end:
                    out.append(Interval(window_start, window_end))
            day += timedelta(days=1)
        return out


def opening_at_or_after(calendar: BusinessCalendar, at: datetime) -> datetime:
    """`at` itself during working time, else the next opening of the calendar."""
    cursor = at
    while cursor - at < HORIZON:
        windows = calendar.windows(cursor, cursor + _CHUNK)
        if windows:
            return windows[0].start
        cursor += _CHUNK
    raise ValueError("the calendar has no working time within the horizon")


def _working(
    calendar: BusinessCalendar | None, start: datetime, end: datetime, pauses: Sequence[Interval]
) -> list[Interval]:
    base = [Interval(start, end)] if calendar is None else calendar.windows(start, end)
    return difference(base, pauses)


def add_working_time(
    start: datetime,
    duration: timedelta,
    calendar: BusinessCalendar | None,
    pauses: Sequence[Interval] = (),
) -> datetime:
    """The instant at which `duration` of working time has passed since `start`.

    `calendar=None` is wall time (a 24/7 desk); pauses never count, on either kind of clock.
    """
    remaining = duration
    if remaining <= timedelta(0):
        return start
    cursor = start
    while cursor - start < HORIZON:
        chunk_end = cursor + _CHUNK
        for window in _working(calendar, cursor, chunk_end, pauses):
            if window.length >= remaining:
                return window.start + remaining
            remaining -= window.length
        cursor = chunk_end
    raise ValueError("the calendar has no working time within the horizon")
