"""Confirmation deadlines (SPEC §3): every lead-time rule at its boundaries, counted in the
customer's calendar far from UTC, never after the meeting's start; pure and through the API."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from bridgedesk.identity import Role
from reservations.service.deadlines import LATER_OCCURRENCE_WINDOW, confirmation_due, days_ahead
from tests.payloads import conference_body

KIRITIMATI = ZoneInfo("Pacific/Kiritimati")  # UTC+14
PAGO_PAGO = ZoneInfo("Pacific/Pago_Pago")  # UTC-11
ZONES = [KIRITIMATI, PAGO_PAGO, ZoneInfo("UTC")]


def _at(zone: ZoneInfo, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2027, 1, day, hour, minute, tzinfo=zone)


@pytest.mark.parametrize("zone", ZONES, ids=str)
@pytest.mark.parametrize(
    "days, window_hours",
    [(0, 1), (1, 1), (2, 4), (5, 4), (6, 8), (27, 8)],
)
def test_lead_time_rule_at_each_boundary(zone, days, window_hours):
    booked = _at(zone, 4, 9)
    start = _at(zone, 4 + days, 22)
    due = confirmation_due(booked.astimezone(UTC), start.astimezone(UTC), zone)
    assert days_ahead(booked, start, zone) == days
    assert due == booked + timedelta(hours=window_hours)


# Bookings near local midnight, where counting days in UTC would pick the wrong rule.
@pytest.mark.parametrize(
    "zone, booked, start, window_hours",
    [
        # Kiritimati: 23:30 on the 4th is 09:30Z on the 4th; 00:30 on the 6th is 10:30Z on
        # the 5th. Local: 2 days ahead (4 h). UTC would say 1 day (1 h).
        (KIRITIMATI, _at(KIRITIMATI, 4, 23, 30), _at(KIRITIMATI, 6, 0, 30), 4),
        # Kiritimati, d = 6 locally (8 h); UTC would say 5 (4 h).
        (KIRITIMATI, _at(KIRITIMATI, 4, 23, 30), _at(KIRITIMATI, 10, 0, 30), 8),
        # Pago Pago: 00:30 on the 4th is 11:30Z on the 4th; 23:30 on the 5th is 10:30Z on
        # the 6th. Local: 1 day ahead (1 h). UTC would say 2 days (4 h).
        (PAGO_PAGO, _at(PAGO_PAGO, 4, 0, 30), _at(PAGO_PAGO, 5, 23, 30), 1),
        # Pago Pago, d = 5 locally (4 h); UTC would say 6 (8 h).
        (PAGO_PAGO, _at(PAGO_PAGO, 4, 0, 30), _at(PAGO_PAGO, 9, 23, 30), 4),
    ],
    ids=["kiritimati-2-not-1", "kiritimati-6-not-5", "pago-1-not-2", "pago-5-not-6"],
)
def test_days_are_counted_in_the_customer_calendar(zone, booked, start, window_hours):
    booked_utc, start_utc = booked.astimezone(UTC), start.astimezone(UTC)
    assert confirmation_due(booked_utc, start_utc, zone) == booked + timedelta(hours=window_hours)
    # The same instants counted in UTC would fall under another rule: the zone matters.
    assert confirmation_due(booked_utc, start_utc, ZoneInfo("UTC")) != booked + timedelta(
        hours=window_hours
    )


@pytest.mark.parametrize("zone", [KIRITIMATI, PAGO_PAGO], ids=str)
def test_deadline_never_falls_after_the_start(zone):
    # Same day, 30 minutes ahead: the 1 h rule would land after the start.
    booked = _at(zone, 4, 10)
    start = booked + timedelta(minutes=30)
    assert confirmation_due(booked, start, zone) == start
    # Next day, 45 minutes ahead across local midnight.
    booked = _at(zone, 4, 23, 30)
    start = _at(zone, 5, 0, 15)
    assert days_ahead(booked, start, zone) == 1
    assert confirmation_due(booked, start, zone) == start
    # Exactly one hour ahead: both bounds agree.
    booked = _at(zone, 4, 10)
    assert confirmation_due(booked, booked + timedelta(hours=1), zone) == booked + timedelta(
        hours=1
    )


def test_later_occurrences_of_a_series_get_48_hours_but_never_past_their_start():
    booked = _at(KIRITIMATI, 4, 9)
    far = _at(KIRITIMATI, 25, 9)
    near = booked + timedelta(hours=30)
    assert timedelta(hours=48) == LATER_OCCURRENCE_WINDOW
    assert confirmation_due(booked, far, KIRITIMATI, later_occurrence=True) == booked + timedelta(
        hours=48
    )
    assert confirmation_due(booked, near, KIRITIMATI, later_occurrence=True) == near


# Through the API: the clock frozen at the booking instant, the deadline read back.
API_CASES = [
    # zone, booked (local), start (local), expected due
    ("Pacific/Kiritimati", (4, 9, 0), (4, 22, 0), "+1h"),  # d = 0
    ("Pacific/Kiritimati", (4, 9, 0), (5, 22, 0), "+1h"),  # d = 1
    ("Pacific/Kiritimati", (4, 9, 0), (6, 22, 0), "+4h"),  # d = 2
    ("Pacific/Kiritimati", (4, 9, 0), (9, 22, 0), "+4h"),  # d = 5
    ("Pacific/Kiritimati", (4, 9, 0), (10, 22, 0), "+8h"),  # d = 6
    ("Pacific/Kiritimati", (4, 23, 30), (6, 0, 30), "+4h"),  # d = 2 here, 1 in UTC
    ("Pacific/Pago_Pago", (4, 0, 30), (5, 23, 30), "+1h"),  # d = 1 here, 2 in UTC
    ("Pacific/Pago_Pago", (4, 0, 30), (9, 23, 30), "+4h"),  # d = 5 here, 6 in UTC
    ("Pacific/Pago_Pago", (4, 0, 30), (10, 0, 30), "+8h"),  # d = 6
    ("Pacific/Pago_Pago", (4, 10, 0), (4, 10, 20), "start"),  # min(rule, start)
    ("Pacific/Kiritimati", (4, 23, 50), (5, 0, 10), "start"),  # next day, 20 min ahead
]


@pytest.mark.parametrize("zone_name, booked, start, expected", API_CASES)
async def test_booking_answers_with_its_deadline(
    client_as, make_customer, make_site, zone_name, booked, start, expected
):
    zone = ZoneInfo(zone_name)
    booked_at = _at(zone, *booked)
    starts = _at(zone, *start)
    due = starts if expected == "start" else booked_at + timedelta(hours=int(expected[1:-1]))
    customer = await make_customer(timezone=zone_name)
    site = await make_site(customer=customer, timezone=zone_name)
    with time_machine.travel(booked_at, tick=False):
        api = await client_as(Role.SCHEDULER, customer_id=customer.id)
        response = await api.post(
            "/api/v1/conferences",
            json=conference_body(customer.id, [site.id], starts, title="Deadline check"),
        )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "requested"
    assert datetime.fromisoformat(body["booked_at"]) == booked_at
    assert datetime.fromisoformat(body["confirmation_due"]) == due
    assert body["overdue"] is False
