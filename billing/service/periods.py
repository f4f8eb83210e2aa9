"""Billing months: "YYYY-MM" strings and their bounds in a customer's time zone."""

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from bridgedesk.errors import InvalidInput

PERIOD = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")


def parse_period(text: str) -> tuple[int, int]:
    match = PERIOD.fullmatch(text.strip())
    if not match or not 2000 <= int(match.group(1)) <= 2999:
        raise InvalidInput(f"month must be YYYY-MM (2000-2999), not {text[:20]!r}.")
    return int(match.group(1)), int(match.group(2))


def next_period(period: str) -> str:
    year, month = parse_period(period)
    return f"{year + month // 12:04d}-{month % 12 + 1:02d}"


def previous_period(period: str) -> str:
    year, month = parse_period(period)
    return f"{year - 1:04d}-12" if month == 1 else f"{year:04d}-{month - 1:02d}"


def period_of(instant: datetime, zone: ZoneInfo) -> str:
    local = instant.astimezone(zone)
    return f"{local.year:04d}-{local.month:02d}"


def month_bounds(period: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[first local midnight of the month, first local midnight of the next) as UTC instants."""
    year, month = parse_period(period)
    following_year, following_month = parse_period(next_period(period))
    start = datetime(year, month, 1, tzinfo=zone)
    end = datetime(following_year, following_month, 1, tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


# The last place on Earth where a calendar month ends: UTC-12 (IANA spells it with a "+").
LAST_ZONE = ZoneInfo("Etc/GMT+12")


def month_is_over(period: str, now: datetime) -> bool:
    """True once `period` has ended in every time zone, so no customer's month is still open;
    a month still running somewhere (or not begun) would be drafted from part of its calls."""
    return now >= month_bounds(period, LAST_ZONE)[1]
