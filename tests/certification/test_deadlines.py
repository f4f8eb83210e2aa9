"""The published certification deadlines as pure rules, at their boundaries."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from certification.service.deadlines import (
    first_certification,
    recertification_due,
    rollout_shift,
    upgrade_due,
)
from reservations.models import SiteKind

RECEIVED = datetime(2027, 3, 1, 10, 0, tzinfo=UTC)


def test_external_site_is_certified_within_24_hours():
    due = first_certification(SiteKind.EXTERNAL, RECEIVED, 1)
    assert due.register_by is None
    assert due.certify_by == RECEIVED + timedelta(hours=24)


def test_room_is_registered_within_24_and_certified_within_48_hours():
    due = first_certification(SiteKind.ROOM, RECEIVED, 1)
    assert due.register_by == RECEIVED + timedelta(hours=24)
    assert due.certify_by == RECEIVED + timedelta(hours=48)


@pytest.mark.parametrize(
    "position, hours", [(1, 0), (75, 0), (76, 48), (80, 48), (150, 48), (151, 96), (226, 144)]
)
def test_rollout_shift_is_48_hours_per_75_sites_ahead(position, hours):
    assert rollout_shift(position) == timedelta(hours=hours)


def test_rollout_of_80_sites_shifts_the_76th_to_80th_by_48_hours():
    shifted = [
        first_certification(SiteKind.EXTERNAL, RECEIVED, k).certify_by - RECEIVED
        for k in range(1, 81)
    ]
    assert shifted[:75] == [timedelta(hours=24)] * 75
    assert shifted[75:] == [timedelta(hours=72)] * 5
    room = first_certification(SiteKind.ROOM, RECEIVED, 76)
    assert room.register_by == RECEIVED + timedelta(hours=72)
    assert room.certify_by == RECEIVED + timedelta(hours=96)


def test_rollout_positions_count_from_one():
    with pytest.raises(ValueError):
        rollout_shift(0)


def test_upgrade_late_in_the_day_far_from_utc_is_due_at_the_local_midnight():
    kiritimati = ZoneInfo("Pacific/Kiritimati")  # UTC+14
    # 23:30 on 1 March in Kiritimati is 09:30 UTC the same date.
    asked = datetime(2027, 3, 1, 23, 30, tzinfo=kiritimati)
    due = upgrade_due(asked.astimezone(UTC), kiritimati)
    assert due == datetime(2027, 3, 2, 0, 0, tzinfo=kiritimati)
    assert due - asked == timedelta(minutes=30)
    assert due == datetime(2027, 3, 1, 10, 0, tzinfo=UTC)


def test_upgrade_far_west_of_utc_is_due_on_the_local_day_not_the_utc_one():
    pago_pago = ZoneInfo("Pacific/Pago_Pago")  # UTC-11
    asked = datetime(2027, 3, 2, 9, 0, tzinfo=UTC)  # 22:00 on 1 March in Pago Pago
    assert upgrade_due(asked, pago_pago) == datetime(2027, 3, 2, 11, 0, tzinfo=UTC)


def test_upgrade_asked_at_local_midnight_has_the_whole_day():
    zone = ZoneInfo("Europe/Berlin")
    asked = datetime(2027, 3, 1, 0, 0, tzinfo=zone)
    assert upgrade_due(asked, zone) - asked == timedelta(hours=24)


def test_upgrade_on_a_dst_day_ends_at_the_next_local_midnight():
    zone = ZoneInfo("America/New_York")
    asked = datetime(2027, 3, 14, 1, 0, tzinfo=zone)  # the night clocks go forward
    assert upgrade_due(asked, zone) == datetime(2027, 3, 15, 0, 0, tzinfo=zone)
    assert upgrade_due(asked, zone) - asked == timedelta(hours=22)


def test_recertification_is_due_24_hours_after_the_fault():
    assert recertification_due(RECEIVED) == RECEIVED + timedelta(hours=24)
