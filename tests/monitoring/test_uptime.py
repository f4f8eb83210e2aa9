"""Monthly availability from hand-computed months (SPEC §6): overlapping outages, outages
inside maintenance, force majeure, a window notified too late, unmonitored gaps, and months
of 743 h and 745 h in a reporting zone with DST."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from monitoring.service.intervals import Interval
from monitoring.service.uptime import OutageFact, WindowFact, compute_report, month_span

NOTICE = timedelta(hours=48)


def u(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2027, month, day, hour, minute, tzinfo=UTC)


def report(month: str, outages=(), windows=(), monitored=None, zone="UTC", now=None):
    year, number = map(int, month.split("-"))
    span = month_span(year, number, ZoneInfo(zone))
    return compute_report(
        component="bridge",
        month=month,
        span=span,
        zone_name=zone,
        outages=list(outages),
        windows=list(windows),
        monitored=[span] if monitored is None else monitored,
        notice=NOTICE,
        now=now or u(12, 31),
    )


def probe(i, start, end):
    return OutageFact(i, start, end, "probe", False)


def test_a_hand_computed_june():
    """June 2027, UTC: 30 days = 43,200 minutes.

    - two bridges down 10:00-10:30 and 10:20-10:50 on the 3rd: 50 min (overlap counted once)
    - maintenance 10th 02:00-04:00, told on the 5th: excluded 120 min; a probed outage
      03:30-04:15 inside it counts only 04:00-04:15: 15 min
    - force majeure 20th 00:00-06:00: excluded 360 min
    - maintenance 25th 01:00-02:00 told 13 h before (notice is 48 h): downtime 60 min
    - the prober was away 27th 12:00-14:00; a manual outage 12:00-12:45 in that gap is
      still downtime (45 min); the other 75 min are unmonitored

    excluded 480, eligible 42,720, downtime 170: (42,720 - 170) / 42,720 = 99.602 %;
    budget 1 % of 42,720 = 427.2, minus 170 = 257.2 minutes left.
    """
    month = Interval(u(6, 1), u(7, 1))
    gap = Interval(u(6, 27, 12), u(6, 27, 14))
    monitored = [Interval(month.start, gap.start), Interval(gap.end, month.end)]
    r = report(
        "2027-06",
        outages=[
            probe(1, u(6, 3, 10), u(6, 3, 10, 30)),
            probe(2, u(6, 3, 10, 20), u(6, 3, 10, 50)),
            probe(3, u(6, 10, 3, 30), u(6, 10, 4, 15)),
            OutageFact(4, u(6, 20), u(6, 20, 6), "manual", True, note="flood"),
            OutageFact(5, u(6, 27, 12), u(6, 27, 12, 45), "manual", False),
        ],
        windows=[
            WindowFact(10, u(6, 10, 2), u(6, 10, 4), notified_at=u(6, 5), reason="upgrade"),
            WindowFact(11, u(6, 25, 1), u(6, 25, 2), notified_at=u(6, 24, 12), reason="late"),
        ],
        monitored=monitored,
    )
    assert r.minutes_in_month == Decimal("43200.00")
    assert r.excluded_minutes == Decimal("480.00")
    assert r.eligible_minutes == Decimal("42720.00")
    assert r.downtime_minutes == Decimal("170.00")
    assert r.unmonitored_minutes == Decimal("75.00")
    assert r.availability_pct == Decimal("99.602")
    assert r.met is True
    assert r.budget_left_minutes == Decimal("257.20")
    listed = {(i.kind, i.id): i for i in r.intervals}
    assert listed[("maintenance", 10)].counted_as == "excluded"
    assert listed[("maintenance", 10)].notified_at == u(6, 5)
    assert listed[("maintenance", 11)].counted_as == "downtime"
    assert listed[("maintenance", 11)].notice_ok is False
    assert listed[("outage", 3)].counted_minutes == Decimal("15.00")
    assert listed[("force_majeure", 4)].counted_as == "excluded"
    assert listed[("manual_outage", 5)].counted_minutes == Decimal("45.00")
    gaps = [i for i in r.intervals if i.kind == "unmonitored"]
    assert [(g.start, g.end) for g in gaps] == [(u(6, 27, 12, 45), u(6, 27, 14))]


def test_a_missed_month_shows_the_overspent_budget():
    # 500 minutes down in a 30-day month: 42,700 / 43,200 = 98.843 %, 68 minutes over.
    r = report("2027-06", outages=[probe(1, u(6, 2), u(6, 2, 8, 20))])
    assert r.downtime_minutes == Decimal("500.00")
    assert r.availability_pct == Decimal("98.843")
    assert r.met is False
    assert r.budget_left_minutes == Decimal("-68.00")


def test_exactly_on_target_is_met():
    # 432 minutes is exactly 1 % of a 30-day month.
    r = report("2027-06", outages=[probe(1, u(6, 2), u(6, 2, 7, 12))])
    assert r.availability_pct == Decimal("99.000") and r.met is True
    assert r.budget_left_minutes == Decimal("0.00")


def test_a_window_notified_exactly_the_notice_period_ahead_is_excluded():
    on_time = WindowFact(1, u(6, 10, 2), u(6, 10, 4), notified_at=u(6, 8, 2))
    late = WindowFact(2, u(6, 12, 2), u(6, 12, 4), notified_at=u(6, 10, 2, 1))
    r = report("2027-06", windows=[on_time, late])
    assert r.excluded_minutes == Decimal("120.00")
    assert r.downtime_minutes == Decimal("120.00")


def test_march_in_berlin_has_743_hours():
    # Clocks go forward on 28 March 2027; the month starts at 23:00 UTC on 28 February.
    r = report(
        "2027-03",
        zone="Europe/Berlin",
        outages=[probe(1, u(2, 28, 23, 30), u(3, 1, 0, 30))],  # all of it in Berlin's March
    )
    assert r.minutes_in_month == Decimal(743 * 60)
    assert r.downtime_minutes == Decimal("60.00")
    # (44,580 - 60) / 44,580 = 99.86541...
    assert r.availability_pct == Decimal("99.865")
    assert r.budget_left_minutes == Decimal("385.80")


def test_october_in_berlin_has_745_hours():
    r = report(
        "2027-10",
        zone="Europe/Berlin",
        outages=[probe(1, u(10, 31, 22, 30), u(10, 31, 23, 30))],  # half of it is November
    )
    assert r.minutes_in_month == Decimal(745 * 60)
    assert r.downtime_minutes == Decimal("30.00")
    # (44,700 - 30) / 44,700 = 99.93288...
    assert r.availability_pct == Decimal("99.933")


def test_an_open_outage_counts_until_now_and_only_while_watched():
    month = Interval(u(6, 1), u(7, 1))
    # Opened at 10:00 on the 5th; the prober died at 11:00 and nobody knows what followed.
    r = report(
        "2027-06",
        outages=[probe(1, u(6, 5, 10), None)],
        monitored=[Interval(month.start, u(6, 5, 11))],
        now=u(6, 5, 12),
    )
    assert r.downtime_minutes == Decimal("60.00")
    # Unmonitored runs from 11:00 up to now (12:00), not to the end of the month.
    assert r.unmonitored_minutes == Decimal("60.00")


def test_a_maintenance_window_overlapping_force_majeure_is_excluded_once():
    r = report(
        "2027-06",
        outages=[OutageFact(1, u(6, 10, 3), u(6, 10, 5), "manual", True)],
        windows=[WindowFact(2, u(6, 10, 2), u(6, 10, 4), notified_at=u(6, 1))],
    )
    assert r.excluded_minutes == Decimal("180.00")
    assert r.downtime_minutes == Decimal("0.00")
    assert r.availability_pct == Decimal("100.000")


def test_seconds_are_kept_to_the_hundredth_of_a_minute():
    r = report(
        "2027-06",
        outages=[OutageFact(1, u(6, 2), u(6, 2) + timedelta(seconds=100), "manual", False)],
    )
    assert r.downtime_minutes == Decimal("1.67")


def test_a_late_window_still_ahead_is_not_downtime_yet():
    window = WindowFact(1, u(6, 20, 1), u(6, 20, 3), notified_at=u(6, 19, 12))
    before = report("2027-06", windows=[window], now=u(6, 19, 13))
    during = report("2027-06", windows=[window], now=u(6, 20, 2))
    after = report("2027-06", windows=[window], now=u(7, 1))
    assert before.downtime_minutes == Decimal("0.00")
    assert during.downtime_minutes == Decimal("60.00")
    assert after.downtime_minutes == Decimal("120.00")
