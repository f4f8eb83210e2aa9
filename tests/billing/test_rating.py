"""Rating by hand: every figure below was worked out on paper from SPEC §7 and the line rules."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from billing.service.rating import (
    Feature,
    NoPlanInForce,
    Plan,
    SiteInfo,
    SpeedTier,
    Zone,
    billed_minutes,
    from_minor,
    money_str,
    plan_in_force,
    rate_conference,
    round_line,
    to_minor,
)

UTC_ZONE = ZoneInfo("UTC")
T0 = datetime(2026, 10, 5, 14, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Leg:
    id: int
    site_id: int
    connected_at: datetime
    disconnected_at: datetime
    speed_kbps: int


def leg(id: int, site: int, start_s: float, seconds: float, speed: int = 768) -> Leg:
    start = T0 + timedelta(seconds=start_s)
    return Leg(id, site, start, start + timedelta(seconds=seconds), speed)


def plan(
    *,
    id: int = 1,
    currency: str = "USD",
    effective_from: date = date(2026, 1, 1),
    tiers: tuple[tuple[int | None, str], ...] = (
        (384, "0.10"),
        (768, "0.20"),
        (1536, "0.35"),
        (2048, "0.50"),
        (None, "0.80"),
    ),
    zones: dict[str, Zone] | None = None,
    features: tuple[Feature, ...] = (),
) -> Plan:
    return Plan(
        id=id,
        currency=currency,
        effective_from=effective_from,
        speed_tiers=tuple(SpeedTier(up, Decimal(p)) for up, p in tiers),
        zones=zones
        if zones is not None
        else {
            "US": Zone(),
            "EU": Zone(multiplier=Decimal("1.5"), surcharge_per_minute=Decimal("0.05")),
        },
        features={f.code: f for f in features},
    )


SITES = {
    1: SiteInfo(1, "New York", "US"),
    2: SiteInfo(2, "London", "EU"),
    3: SiteInfo(3, "Chicago", "US"),
}


@pytest.mark.parametrize(
    "seconds, minutes",
    [(0, 0), (1, 1), (59, 1), (60, 1), (61, 2), (119.5, 2), (120, 2), (120.000001, 3)],
)
def test_each_leg_is_rounded_up_to_the_whole_minute(seconds, minutes):
    assert billed_minutes(seconds) == minutes
    rated = rate_conference(1, [leg(1, 1, 0, seconds)], SITES, [], [plan()], UTC_ZONE)
    assert rated is not None
    assert rated.sites[0].minutes == minutes


def test_legs_of_59_60_and_61_seconds_on_three_sites():
    # 768 kbps is the 0.20 tier. New York (US): 59 s -> 1 min -> 0.20. London (EU):
    # 60 s -> 1 min x (0.20 x 1.5 + 0.05 = 0.35) -> 0.35. Chicago (US): 61 s -> 2 min -> 0.40.
    rated = rate_conference(
        7, [leg(1, 1, 0, 59), leg(2, 2, 0, 60), leg(3, 3, 0, 61)], SITES, [], [plan()], UTC_ZONE
    )
    assert rated is not None
    lines = {s.site_id: (s.minutes, s.charges) for s in rated.sites}
    assert lines == {1: (1, Decimal("0.20")), 2: (1, Decimal("0.35")), 3: (2, Decimal("0.40"))}
    assert rated.total_minutes == 4
    assert rated.total_charges == Decimal("0.95")


def test_a_drop_and_reconnect_sums_the_sites_two_rounded_legs():
    # 10 min 1 s -> 11 min, then after the drop 4 min 59 s -> 5 min: 16 minutes (not the
    # 15 minutes that rounding the 15 min 0 s sum would give) x 0.20 = 3.20.
    rated = rate_conference(
        1, [leg(1, 1, 0, 601), leg(2, 1, 700, 299)], SITES, [], [plan()], UTC_ZONE
    )
    assert rated is not None
    (site,) = rated.sites
    assert (site.minutes, site.charges, len(site.legs)) == (16, Decimal("3.20"), 2)


@pytest.mark.parametrize(
    "speed, per_minute",
    [
        (384, "0.10"),
        (385, "0.20"),
        (768, "0.20"),
        (769, "0.35"),
        (1536, "0.35"),
        (2048, "0.50"),
        (2049, "0.80"),
        (6000, "0.80"),
    ],
)
def test_speeds_on_and_just_past_tier_boundaries(speed, per_minute):
    rated = rate_conference(1, [leg(1, 1, 0, 600, speed)], SITES, [], [plan()], UTC_ZONE)
    assert rated is not None
    assert rated.sites[0].charges == Decimal(per_minute) * 10


def test_two_zones_multiplier_and_surcharge():
    # 2048 kbps = 0.50. US: 30 min x 0.50 = 15.00. EU: 30 x (0.50 x 1.5 + 0.05 = 0.80) = 24.00.
    rated = rate_conference(
        1,
        [leg(1, 1, 0, 1800, 2048), leg(2, 2, 0, 1800, 2048)],
        SITES,
        [],
        [plan()],
        UTC_ZONE,
    )
    assert rated is not None
    assert [s.charges for s in rated.sites] == [Decimal("15.00"), Decimal("24.00")]
    assert rated.total_charges == Decimal("39.00")


def test_an_unknown_zone_is_priced_at_the_plain_tier():
    sites = {9: SiteInfo(9, "Somewhere", "MARS")}
    rated = rate_conference(1, [leg(1, 9, 0, 60, 384)], sites, [], [plan()], UTC_ZONE)
    assert rated is not None and rated.sites[0].charges == Decimal("0.10")


def test_a_feature_of_each_per():
    features = (
        Feature("REC", "Recording", "conference", Decimal("5.00")),
        Feature("TRN", "Transcription", "minute", Decimal("0.015")),
        Feature("HD", "HD video", "site", Decimal("2.50")),
    )
    # New York 0:00-20:00 and London 5:00-40:00 (on the hour) -> duration 40 min.
    # Sites: NY 20 x 0.20 = 4.00; London 35 x 0.35 = 12.25.
    # REC 5.00; TRN 40 x 0.015 = 0.600 -> 0.60; HD 2 sites x 2.50 = 5.00.
    # Chicago was booked but never connected: no line, and no HD charge for it.
    rated = rate_conference(
        1,
        [leg(1, 1, 0, 1200), leg(2, 2, 300, 2100)],
        SITES,
        ["REC", "TRN", "HD", "NOPE"],
        [plan(features=features)],
        UTC_ZONE,
    )
    assert rated is not None
    assert [s.site_id for s in rated.sites] == [1, 2]
    assert rated.duration_minutes == 40
    charges = {f.code: (f.quantity, f.charges) for f in rated.features}
    assert charges == {
        "REC": (1, Decimal("5.00")),
        "TRN": (40, Decimal("0.60")),
        "HD": (2, Decimal("5.00")),
        "NOPE": (0, Decimal("0.00")),
    }
    assert rated.total_charges == Decimal("4.00") + Decimal("12.25") + Decimal("10.60")
    assert rated.total_minutes == 55


def test_per_minute_feature_uses_the_rounded_up_duration_not_the_sum_of_sites():
    features = (Feature("TRN", "Transcription", "minute", Decimal("1")),)
    # Two sites over the same 10 min 30 s: duration 11 minutes (sites' minutes sum to 22).
    rated = rate_conference(
        1,
        [leg(1, 1, 0, 630), leg(2, 3, 0, 630)],
        SITES,
        ["TRN"],
        [plan(features=features)],
        UTC_ZONE,
    )
    assert rated is not None
    assert rated.features[0].quantity == 11 and rated.total_minutes == 22


def test_an_overrun_is_billed_by_what_really_happened():
    # Booked for an hour, the call ran 75 minutes: the CDR says 75, so 75 x 0.20 = 15.00.
    rated = rate_conference(1, [leg(1, 1, 0, 75 * 60)], SITES, [], [plan()], UTC_ZONE)
    assert rated is not None and rated.total_charges == Decimal("15.00")


def test_a_conference_with_no_legs_is_not_billed():
    assert rate_conference(1, [], SITES, ["REC"], [plan()], UTC_ZONE) is None


def test_the_plan_in_force_when_each_leg_connected_prices_it():
    zone = ZoneInfo("America/New_York")
    old = plan(id=1, effective_from=date(2026, 1, 1))
    new = plan(id=2, effective_from=date(2026, 10, 15), tiers=((None, "1.00"),))
    # 2026-10-15 03:30 UTC is still the 14th in New York: the old plan; 04:30 UTC is the 15th.
    before = Leg(
        1,
        1,
        datetime(2026, 10, 15, 3, 30, tzinfo=UTC),
        datetime(2026, 10, 15, 3, 40, tzinfo=UTC),
        768,
    )
    after = Leg(
        2,
        1,
        datetime(2026, 10, 15, 4, 30, tzinfo=UTC),
        datetime(2026, 10, 15, 4, 40, tzinfo=UTC),
        768,
    )
    assert plan_in_force([new, old], before.connected_at, zone).id == 1
    assert plan_in_force([new, old], after.connected_at, zone).id == 2
    rated = rate_conference(1, [before, after], SITES, [], [old, new], zone)
    assert rated is not None
    (site,) = rated.sites
    # 10 x 0.20 + 10 x 1.00 = 12.00, each leg at its own plan's rate.
    assert [r.plan_id for r in site.legs] == [1, 2]
    assert site.charges == Decimal("12.00")
    with pytest.raises(NoPlanInForce):
        plan_in_force([new], before.connected_at, zone)


def test_round_half_up_once_per_line_and_totals_are_sums_of_rounded_lines():
    # Rate 0.0125/min (tier 0.01 x 1.25): NY 1 min -> 0.0125 -> 0.01 (half up of 1.25 cents
    # is 1 cent); London 1 min -> 0.0125 x 1 + 0.0025 = 0.015 -> 0.02 (half up);
    # Chicago 3 legs of 1 min -> 0.0375 -> 0.04 (one rounding for the site, not 3 x 0.01).
    p = plan(
        tiers=((None, "0.01"),),
        zones={
            "US": Zone(multiplier=Decimal("1.25")),
            "EU": Zone(multiplier=Decimal("1.25"), surcharge_per_minute=Decimal("0.0025")),
        },
    )
    rated = rate_conference(
        1,
        [
            leg(1, 1, 0, 60),
            leg(2, 2, 0, 60),
            leg(3, 3, 0, 60),
            leg(4, 3, 100, 60),
            leg(5, 3, 200, 60),
        ],
        SITES,
        [],
        [p],
        UTC_ZONE,
    )
    assert rated is not None
    assert [s.charges for s in rated.sites] == [Decimal("0.01"), Decimal("0.02"), Decimal("0.04")]
    assert rated.total_charges == Decimal("0.07")
    # Where rounding the sum would differ from summing the rounded lines: NY 1 min -> 0.0125
    # -> 0.01 and Chicago 1 min -> 0.01; the total is 0.02, not round(0.025) = 0.03.
    two = rate_conference(2, [leg(1, 1, 0, 60), leg(2, 3, 0, 60)], SITES, [], [p], UTC_ZONE)
    assert two is not None
    assert two.total_charges == Decimal("0.02")


@pytest.mark.parametrize(
    "currency, rate, minutes, expected, minor",
    [
        # JPY has 0 minor digits: 7 min x 12.5 = 87.5 -> 88 yen.
        ("JPY", "12.5", 7, "88", 88),
        # BHD has 3: 7 min x 0.1235 = 0.8645 -> 0.865 (half up).
        ("BHD", "0.1235", 7, "0.865", 865),
        # USD: 7 x 0.0125 = 0.0875 -> 0.09.
        ("USD", "0.0125", 7, "0.09", 9),
    ],
)
def test_currencies_with_0_2_and_3_minor_digits(currency, rate, minutes, expected, minor):
    p = plan(currency=currency, tiers=((None, rate),))
    rated = rate_conference(1, [leg(1, 1, 0, minutes * 60)], SITES, [], [p], UTC_ZONE)
    assert rated is not None and rated.currency == currency
    assert money_str(rated.total_charges, currency) == expected
    assert to_minor(rated.total_charges, currency) == minor
    assert from_minor(minor, currency) == Decimal(expected)


def test_round_line_is_half_up_not_bankers():
    assert round_line(Decimal("0.125"), "USD") == Decimal("0.13")
    assert round_line(Decimal("0.135"), "USD") == Decimal("0.14")
    assert round_line(Decimal("2.5"), "JPY") == Decimal("3")
    assert round_line(Decimal("0.0005"), "BHD") == Decimal("0.001")
