"""Business-hours clocks: the Done-when cases (Friday 16:00 Los Angeles + 4 business hours),
holidays, pauses, DST changes, weekends and overnight windows."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from monitoring.service.business_hours import (
    BusinessCalendar,
    add_working_time,
)
from monitoring.service.intervals import Interval

LA = ZoneInfo("America/Los_Angeles")
PACIFIC = BusinessCalendar(
    zone="America/Los_Angeles", opens=time(8), closes=time(17), holiday_country="US"
)
FOUR_HOURS = timedelta(hours=4)


def la(*args: int) -> datetime:
    return datetime(*args, tzinfo=LA)


def test_friday_afternoon_is_due_monday_late_morning():
    # Friday 8 January 2027, 16:00: one hour left on Friday, three more from Monday 08:00.
    assert add_working_time(la(2027, 1, 8, 16), FOUR_HOURS, PACIFIC) == la(2027, 1, 11, 11)


def test_a_holiday_monday_moves_it_to_tuesday():
    # Labor Day is Monday 6 September 2027.
    assert add_working_time(la(2027, 9, 3, 16), FOUR_HOURS, PACIFIC) == la(2027, 9, 7, 11)


def test_without_the_holiday_calendar_monday_counts():
    no_holidays = BusinessCalendar(zone="America/Los_Angeles")
    assert add_working_time(la(2027, 9, 3, 16), FOUR_HOURS, no_holidays) == la(2027, 9, 6, 11)


def test_pauses_extend_the_clock():
    waiting = [Interval(la(2027, 1, 11, 8), la(2027, 1, 11, 9, 30))]
    assert add_working_time(la(2027, 1, 8, 16), FOUR_HOURS, PACIFIC, waiting) == la(
        2027, 1, 11, 12, 30
    )
    # A pause outside business hours costs nothing.
    weekend = [Interval(la(2027, 1, 9, 10), la(2027, 1, 10, 10))]
    assert add_working_time(la(2027, 1, 8, 16), FOUR_HOURS, PACIFIC, weekend) == la(2027, 1, 11, 11)


def test_wall_clock_with_a_pause():
    start = datetime(2027, 1, 1, 10, tzinfo=UTC)
    pause = [Interval(start + timedelta(hours=1), start + timedelta(hours=3))]
    assert add_working_time(start, timedelta(hours=8), None, pause) == start + timedelta(hours=10)


@pytest.mark.parametrize(
    "opened, due",
    [
        ((2027, 1, 9, 10), (2027, 1, 11, 12)),  # Saturday: the clock starts Monday 08:00
        ((2027, 1, 8, 17), (2027, 1, 11, 12)),  # at closing time: nothing left on Friday
        ((2027, 1, 11, 7, 59), (2027, 1, 11, 12)),  # before opening
        ((2027, 1, 11, 13), (2027, 1, 11, 17)),  # exactly used up at closing: due then
    ],
)
def test_edges_of_the_working_day(opened, due):
    assert add_working_time(la(*opened), FOUR_HOURS, PACIFIC) == la(*due)


def test_spring_forward_keeps_local_opening_hours():
    # DST begins Sunday 14 March 2027: Monday's 08:00 is 15:00 UTC, not 16:00.
    due = add_working_time(la(2027, 3, 12, 16), FOUR_HOURS, PACIFIC)
    assert due == la(2027, 3, 15, 11)
    assert due.astimezone(UTC) == datetime(2027, 3, 15, 18, tzinfo=UTC)


def test_fall_back_keeps_local_opening_hours():
    due = add_working_time(la(2027, 11, 5, 16), FOUR_HOURS, PACIFIC)
    assert due.astimezone(UTC) == datetime(2027, 11, 8, 19, tzinfo=UTC)  # 11:00 PST


def test_a_night_shift_across_a_dst_night():
    # A window 22:00-06:00 on weeknights; the night of 7 Nov 2027 (Sunday, not a workday)
    # is skipped; Monday's night runs into Tuesday. Nov 7 is also the fall-back night.
    nights = BusinessCalendar(
        zone="America/Los_Angeles",
        weekdays=frozenset({0, 1, 2, 3, 4}),
        opens=time(22),
        closes=time(6),
    )
    # Friday 5 Nov 05:00: one hour of Thursday's night left, then Friday night from 22:00.
    assert add_working_time(la(2027, 11, 5, 5), timedelta(hours=2), nights) == la(2027, 11, 5, 23)
    # Friday night 22:00 to Saturday 06:00 is 8 h; 9 h runs on to Monday 23:00.
    assert add_working_time(la(2027, 11, 5, 22), timedelta(hours=9), nights) == la(2027, 11, 8, 23)


def test_a_night_window_spanning_the_fall_back_hour_is_nine_hours_long():
    nights = BusinessCalendar(
        zone="America/Los_Angeles", weekdays=frozenset({5}), opens=time(22), closes=time(6)
    )
    # Saturday 6 Nov 2027 22:00 PDT to Sunday 06:00 PST: the clock goes back at 02:00.
    start = la(2027, 11, 6, 22)
    assert add_working_time(start, timedelta(hours=9), nights) == la(2027, 11, 7, 6)
    # A minute more than the night holds runs on to the next Saturday night.
    later = add_working_time(start, timedelta(hours=9, minutes=1), nights)
    assert later == la(2027, 11, 13, 22, 1)


def test_a_calendar_without_working_days_fails_loudly():
    with pytest.raises(ValueError):
        add_working_time(la(2027, 1, 1), FOUR_HOURS, BusinessCalendar("UTC", weekdays=frozenset()))
