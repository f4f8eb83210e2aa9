"""RRULE expansion in the customer's zone: wall-clock times survive DST, limits are enforced."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from reservations.service.recurrence import InvalidRecurrence, canonical_rule, expand, place

NEW_YORK = ZoneInfo("America/New_York")
HOUR = timedelta(hours=1)


def test_weekly_0900_new_york_stays_at_0900_across_march_dst():
    # 2027-03-14 is the US spring-forward Sunday.
    first = datetime(2027, 3, 1, 14, 0, tzinfo=UTC)  # Monday 09:00 EST
    starts = [o.start for o in expand("FREQ=WEEKLY;BYDAY=MO;COUNT=4", first, HOUR, NEW_YORK)]
    assert starts == [
        datetime(2027, 3, 1, 14, 0, tzinfo=UTC),
        datetime(2027, 3, 8, 14, 0, tzinfo=UTC),
        datetime(2027, 3, 15, 13, 0, tzinfo=UTC),  # 09:00 EDT
        datetime(2027, 3, 22, 13, 0, tzinfo=UTC),
    ]
    assert {s.astimezone(NEW_YORK).hour for s in starts} == {9}


def test_monthly_last_friday_until_a_utc_instant():
    first = datetime(2027, 1, 29, 15, 0, tzinfo=UTC)  # last Friday of January, 10:00 EST
    occurrences = expand(
        "RRULE:FREQ=MONTHLY;BYDAY=-1FR;UNTIL=20270430T235959Z", first, HOUR, NEW_YORK
    )
    assert [o.start.astimezone(NEW_YORK).date().isoformat() for o in occurrences] == [
        "2027-01-29",
        "2027-02-26",
        "2027-03-26",
        "2027-04-30",
    ]
    assert all(o.start.astimezone(NEW_YORK).hour == 10 for o in occurrences)
    assert all(o.end - o.start == HOUR for o in occurrences)


def test_until_as_a_date_includes_that_day():
    first = datetime(2027, 5, 3, 13, 0, tzinfo=UTC)
    occurrences = expand("FREQ=DAILY;UNTIL=20270505", first, HOUR, NEW_YORK)
    assert len(occurrences) == 3


def test_until_is_stored_in_utc_for_calendars():
    assert canonical_rule("FREQ=DAILY;UNTIL=20270505", NEW_YORK) == (
        "FREQ=DAILY;UNTIL=20270506T035959Z"
    )


@pytest.mark.parametrize(
    "rule, message",
    [
        ("FREQ=HOURLY;COUNT=3", "FREQ"),
        ("FREQ=DAILY", "COUNT or UNTIL"),
        ("FREQ=DAILY;COUNT=3;UNTIL=20270505", "COUNT or UNTIL"),
        ("FREQ=DAILY;COUNT=800", "2 years"),
        ("FREQ=WEEKLY;BYDAY=TU;COUNT=3", "first occurrence"),
        ("FREQ=DAILY;COUNT=x", "whole number"),
        ("FREQ=DAILY;BYHOUR=3;COUNT=2", "not supported"),
        ("FREQ=DAILY;INTERVAL=0;COUNT=3", "INTERVAL"),  # would book 3 meetings at one instant
        ("FREQ=DAILY;INTERVAL=-1;COUNT=3", "INTERVAL"),  # dateutil raised inside the loop: a 500
        ("FREQ=DAILY;INTERVAL=x;COUNT=3", "INTERVAL"),
        ("FREQ=DAILY;INTERVAL=²;COUNT=3", "INTERVAL"),  # a digit to str.isdigit, not to int()
        ("FREQ=DAILY;COUNT=²", "whole number"),
        ("FREQ=MONTHLY;BYDAY=9MO;COUNT=2", "cannot be expanded"),  # dateutil: IndexError
    ],
)
def test_rules_the_service_does_not_book(rule, message):
    with pytest.raises(InvalidRecurrence, match=message):
        expand(rule, datetime(2027, 3, 1, 14, 0, tzinfo=UTC), HOUR, NEW_YORK)


def test_weekly_0900_new_york_stays_at_0900_across_november_dst():
    # 2027-11-07 is the US fall-back Sunday.
    first = datetime(2027, 11, 1, 13, 0, tzinfo=UTC)  # Monday 09:00 EDT
    starts = [o.start for o in expand("FREQ=WEEKLY;BYDAY=MO;COUNT=3", first, HOUR, NEW_YORK)]
    assert starts == [
        datetime(2027, 11, 1, 13, 0, tzinfo=UTC),
        datetime(2027, 11, 8, 14, 0, tzinfo=UTC),  # 09:00 EST
        datetime(2027, 11, 15, 14, 0, tzinfo=UTC),
    ]
    assert {s.astimezone(NEW_YORK).hour for s in starts} == {9}


def test_occurrences_that_overlap_each_other_are_refused():
    # 24 h from 09:00 local: the day that springs forward has only 23 h until the next 09:00.
    first = datetime(2027, 3, 13, 14, 0, tzinfo=UTC)  # Saturday 09:00 EST
    with pytest.raises(InvalidRecurrence, match="overlap"):
        expand("FREQ=DAILY;COUNT=3", first, timedelta(hours=24), NEW_YORK)
    # The same meeting on days without a DST change only touches the next one: allowed.
    assert (
        len(expand("FREQ=DAILY;COUNT=3", first + timedelta(days=7), timedelta(hours=24), NEW_YORK))
        == 3
    )


def test_a_start_with_microseconds_is_kept_for_every_occurrence():
    first = datetime(2027, 3, 1, 14, 0, 0, 250_000, tzinfo=UTC)
    occurrences = expand("FREQ=WEEKLY;BYDAY=MO;COUNT=3", first, HOUR, NEW_YORK)
    assert [o.start for o in occurrences] == [
        first,
        first + timedelta(days=7),
        first + timedelta(days=14, hours=-1),
    ]


def test_the_spring_forward_gap_moves_a_meeting_forward_by_the_jump():
    # 02:30 does not exist in New York on 2027-03-14: the meeting is held at 03:30 EDT.
    assert place(datetime(2027, 3, 14, 2, 30), NEW_YORK) == datetime(2027, 3, 14, 7, 30, tzinfo=UTC)
    assert place(datetime(2027, 3, 15, 2, 30), NEW_YORK) == datetime(2027, 3, 15, 6, 30, tzinfo=UTC)
