"""The provider's published confirmation deadlines, as data and one pure rule."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class LeadTimeWindow:
    max_days_ahead: int | None  # None: no upper bound
    window: timedelta
    commitment: str


# "Meeting the same or next day: confirmed within 1 h of booking; 2-5 days ahead: within
# 4 h; 6 or more days ahead: within 8 h."
LEAD_TIME_WINDOWS: tuple[LeadTimeWindow, ...] = (
    LeadTimeWindow(1, timedelta(hours=1), "same or next day: within 1 h"),
    LeadTimeWindow(5, timedelta(hours=4), "2 to 5 days ahead: within 4 h"),
    LeadTimeWindow(None, timedelta(hours=8), "6 or more days ahead: within 8 h"),
)

# "Recurring series: each later meeting within 48 h."
LATER_OCCURRENCE_WINDOW = timedelta(hours=48)


def days_ahead(booked_at: datetime, start: datetime, zone: ZoneInfo) -> int:
    """Calendar days, in the customer's zone, from the booking date to the meeting date."""
    return (start.astimezone(zone).date() - booked_at.astimezone(zone).date()).days


def lead_time_window(days: int) -> timedelta:
    for rule in LEAD_TIME_WINDOWS:
        if rule.max_days_ahead is None or days <= rule.max_days_ahead:
            return rule.window
    raise AssertionError("LEAD_TIME_WINDOWS ends with an unbounded rule")


def confirmation_due(
    booked_at: datetime, start: datetime, zone: ZoneInfo, *, later_occurrence: bool = False
) -> datetime:
    """The provider's confirmation deadline, never after the meeting starts."""
    if later_occurrence:
        window = LATER_OCCURRENCE_WINDOW
    else:
        window = lead_time_window(days_ahead(booked_at, start, zone))
    return min(booked_at + window, start)
