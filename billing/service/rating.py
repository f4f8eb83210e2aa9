"""Rating call detail records into priced conference lines: pure functions, no database.

Definitions (SPEC §7 and the money rule of SPEC §2; every amount is a `Decimal`):

- A **leg** is one call detail record (one connection of one site). Its *billed minutes* are
  its connected time rounded **up** to the whole minute (59 s -> 1, 60 s -> 1, 61 s -> 2;
  a zero-length leg bills 0 minutes).
- A leg is priced by the **plan in force when it connected**: the customer's plan version
  with the latest `effective_from` on or before the local date (customer's time zone) of
  `connected_at`. The leg's *rate per minute* is
  `tier price * zone multiplier + zone surcharge`, unrounded, where the tier is the first
  speed tier whose `up_to_kbps` is at least the leg's speed (so 384 kbps is in the
  "up to 384" tier and 385 kbps in the next), and the zone is the site's billing zone
  (a zone the plan does not name has multiplier 1 and no surcharge).
- A **site line** is one site of one conference: its minutes are the sum of its legs' billed
  minutes; its charges are `sum of (leg minutes * leg rate)` over its legs, rounded **once**, to
  the currency's minor unit (babel's precision for the currency) with ROUND_HALF_UP.
  A site that never connected has no legs and so no line.
- A **feature line** is one feature code of one conference, priced by the plan in force when
  the conference's first leg connected, rounded once:
  `per: conference` -> price * 1; `per: minute` -> price * the conference's duration (first
  leg connected to last leg disconnected, rounded up to the whole minute);
  `per: site` -> price * the number of sites that connected. A feature code the plan does
  not price is listed as unpriced and charges nothing.
- A **conference's** total minutes are the sum of its site lines' minutes; its total charges
  are the sum of its (already rounded) site and feature lines. An invoice total is the sum of
  its conferences' totals, so every total re-adds exactly from the lines under it.
- A conference with no call records at all is not billed (nothing connected).
"""

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import cached_property, lru_cache
from typing import Literal, Protocol
from zoneinfo import ZoneInfo

from babel.numbers import get_currency_precision

FeaturePer = Literal["conference", "minute", "site"]
FEATURE_PERS: tuple[FeaturePer, ...] = ("conference", "minute", "site")


class NoPlanInForce(Exception):
    """A leg connected before the customer's first rate plan took effect."""

    def __init__(self, connected_at: datetime) -> None:
        super().__init__(f"no rate plan in force on {connected_at.isoformat()}")
        self.connected_at = connected_at


@lru_cache(maxsize=256)
def minor_digits(currency: str) -> int:
    return int(get_currency_precision(currency))


@lru_cache(maxsize=256)
def quantum(currency: str) -> Decimal:
    """The currency's minor unit: 0.01 for USD, 1 for JPY, 0.001 for BHD."""
    return Decimal(1).scaleb(-minor_digits(currency))


def round_line(amount: Decimal, currency: str) -> Decimal:
    """The one rounding a line gets: half up, to the currency's minor unit."""
    return amount.quantize(quantum(currency), rounding=ROUND_HALF_UP)


def to_minor(amount: Decimal, currency: str) -> int:
    """A rounded amount as an integer count of minor units (stored exactly on every database)."""
    scaled = amount.scaleb(minor_digits(currency))
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{amount} is not a whole number of {currency} minor units")
    return int(scaled)


def from_minor(minor: int, currency: str) -> Decimal:
    return Decimal(minor).scaleb(-minor_digits(currency)).quantize(quantum(currency))


def money_str(amount: Decimal, currency: str) -> str:
    """The API's decimal string: exactly the currency's minor digits, e.g. "12.30", "1235"."""
    return str(amount.quantize(quantum(currency)))


def billed_minutes(seconds: Decimal | float) -> int:
    """Connected time rounded up to the whole minute (each leg, and a conference's duration)."""
    exact = seconds if isinstance(seconds, Decimal) else Decimal(str(seconds))
    return max(0, math.ceil(exact / 60))


def leg_seconds(connected_at: datetime, disconnected_at: datetime) -> Decimal:
    """Exact connected time (microseconds kept, so 60.000001 s is a second minute)."""
    delta = disconnected_at - connected_at
    return Decimal(delta.days * 86400 + delta.seconds) + Decimal(delta.microseconds) / 1_000_000


def minutes_between(start: datetime, end: datetime) -> int:
    return billed_minutes(leg_seconds(start, end))


@dataclass(frozen=True)
class SpeedTier:
    up_to_kbps: int | None  # None: every speed above the highest bounded tier
    per_minute: Decimal


@dataclass(frozen=True)
class Zone:
    multiplier: Decimal = Decimal(1)
    surcharge_per_minute: Decimal = Decimal(0)


@dataclass(frozen=True)
class Feature:
    code: str
    name: str
    per: FeaturePer
    price: Decimal


@dataclass(frozen=True)
class Plan:
    """One version of a customer's rate plan, as rating needs it."""

    id: int
    currency: str
    effective_from: date  # a date in the customer's time zone
    speed_tiers: tuple[SpeedTier, ...]
    zones: Mapping[str, Zone] = field(default_factory=dict)
    features: Mapping[str, Feature] = field(default_factory=dict)

    @cached_property
    def _tiers_in_order(self) -> tuple[tuple[float, SpeedTier], ...]:
        """Bounded tiers by bound, then the open-ended one (its bound taken as infinite)."""
        bounded: list[tuple[float, SpeedTier]] = sorted(
            ((float(t.up_to_kbps), t) for t in self.speed_tiers if t.up_to_kbps is not None),
            key=lambda pair: pair[0],
        )
        open_ended = [(math.inf, t) for t in self.speed_tiers if t.up_to_kbps is None]
        return tuple(bounded + open_ended)

    def tier_for(self, speed_kbps: int) -> SpeedTier:
        for bound, tier in self._tiers_in_order:
            if speed_kbps <= bound:
                return tier
        # Validation of plans requires an open-ended tier, so this means a broken plan.
        raise ValueError(f"plan {self.id} has no tier for {speed_kbps} kbps")

    def zone(self, code: str) -> Zone:
        return self.zones.get(code, Zone())

    def rate(self, speed_kbps: int, zone_code: str) -> Decimal:
        zone = self.zone(zone_code)
        return self.tier_for(speed_kbps).per_minute * zone.multiplier + zone.surcharge_per_minute


def plan_in_force(plans: Sequence[Plan], at: datetime, zone: ZoneInfo) -> Plan:
    """The version with the latest `effective_from` on or before `at`'s local date."""
    day = at.astimezone(zone).date()
    chosen: Plan | None = None
    for plan in plans:
        if plan.effective_from <= day and (
            chosen is None or plan.effective_from > chosen.effective_from
        ):
            chosen = plan
    if chosen is None:
        raise NoPlanInForce(at)
    return chosen


class LegRecord(Protocol):
    """The fields of `bridge.service.cdrs.CallRecord` that rating reads."""

    @property
    def id(self) -> int: ...
    @property
    def site_id(self) -> int: ...
    @property
    def connected_at(self) -> datetime: ...
    @property
    def disconnected_at(self) -> datetime: ...
    @property
    def speed_kbps(self) -> int: ...


@dataclass(frozen=True)
class SiteInfo:
    site_id: int
    name: str
    billing_zone: str


@dataclass(frozen=True)
class RatedLeg:
    record_id: int
    connected_at: datetime
    disconnected_at: datetime
    seconds: Decimal
    minutes: int
    speed_kbps: int
    plan_id: int
    tier_up_to_kbps: int | None
    tier_per_minute: Decimal
    zone_multiplier: Decimal
    zone_surcharge: Decimal
    rate: Decimal  # per minute, unrounded
    amount: Decimal  # minutes * rate, unrounded


@dataclass(frozen=True)
class SiteLine:
    site_id: int
    site_name: str
    billing_zone: str
    speed_kbps: int  # the highest speed the site connected at (each leg is priced at its own)
    minutes: int
    unrounded: Decimal
    charges: Decimal
    legs: tuple[RatedLeg, ...]


@dataclass(frozen=True)
class FeatureLine:
    code: str
    name: str
    per: FeaturePer | None  # None: the plan does not price this feature
    quantity: int
    price: Decimal
    unrounded: Decimal
    charges: Decimal
    plan_id: int


@dataclass(frozen=True)
class RatedConference:
    conference_id: int
    currency: str
    first_connected_at: datetime
    last_disconnected_at: datetime
    duration_minutes: int
    total_minutes: int
    total_charges: Decimal
    sites: tuple[SiteLine, ...]
    features: tuple[FeatureLine, ...]


def rate_leg(leg: LegRecord, plan: Plan, zone_code: str) -> RatedLeg:
    seconds = leg_seconds(leg.connected_at, leg.disconnected_at)
    minutes = billed_minutes(seconds)
    tier = plan.tier_for(leg.speed_kbps)
    zone = plan.zone(zone_code)
    rate = tier.per_minute * zone.multiplier + zone.surcharge_per_minute
    return RatedLeg(
        record_id=leg.id,
        connected_at=leg.connected_at,
        disconnected_at=leg.disconnected_at,
        seconds=seconds,
        minutes=minutes,
        speed_kbps=leg.speed_kbps,
        plan_id=plan.id,
        tier_up_to_kbps=tier.up_to_kbps,
        tier_per_minute=tier.per_minute,
        zone_multiplier=zone.multiplier,
        zone_surcharge=zone.surcharge_per_minute,
        rate=rate,
        amount=minutes * rate,
    )


def rate_conference(
    conference_id: int,
    legs: Iterable[LegRecord],
    sites: Mapping[int, SiteInfo],
    feature_codes: Sequence[str],
    plans: Sequence[Plan],
    zone: ZoneInfo,
) -> RatedConference | None:
    """Price one conference from its legs; None when no leg connected (nothing to bill).

    `sites` names the conference's sites (a leg of a site missing from it is still billed,
    under the site id). Raises NoPlanInForce when a leg predates every plan version.
    """
    ordered = sorted(legs, key=lambda leg: (leg.connected_at, leg.id))
    if not ordered:
        return None
    by_site: dict[int, list[RatedLeg]] = {}
    for leg in ordered:
        info = sites.get(leg.site_id) or SiteInfo(leg.site_id, f"site {leg.site_id}", "")
        plan = plan_in_force(plans, leg.connected_at, zone)
        by_site.setdefault(leg.site_id, []).append(rate_leg(leg, plan, info.billing_zone))
    first_plan = plan_in_force(plans, ordered[0].connected_at, zone)
    currency = first_plan.currency
    site_lines: list[SiteLine] = []
    for site_id, rated in by_site.items():
        info = sites.get(site_id) or SiteInfo(site_id, f"site {site_id}", "")
        unrounded = sum((r.amount for r in rated), Decimal(0))
        site_lines.append(
            SiteLine(
                site_id=site_id,
                site_name=info.name,
                billing_zone=info.billing_zone,
                speed_kbps=max(r.speed_kbps for r in rated),
                minutes=sum(r.minutes for r in rated),
                unrounded=unrounded,
                charges=round_line(unrounded, currency),
                legs=tuple(rated),
            )
        )
    first = ordered[0].connected_at
    last = max(leg.disconnected_at for leg in ordered)
    duration = minutes_between(first, last)
    features: list[FeatureLine] = []
    for code in dict.fromkeys(feature_codes):
        feature = first_plan.features.get(code)
        if feature is None:
            features.append(
                FeatureLine(code, code, None, 0, Decimal(0), Decimal(0), Decimal(0), first_plan.id)
            )
            continue
        quantity = {"conference": 1, "minute": duration, "site": len(site_lines)}[feature.per]
        unrounded = feature.price * quantity
        features.append(
            FeatureLine(
                code=code,
                name=feature.name,
                per=feature.per,
                quantity=quantity,
                price=feature.price,
                unrounded=unrounded,
                charges=round_line(unrounded, currency),
                plan_id=first_plan.id,
            )
        )
    total = sum((s.charges for s in site_lines), Decimal(0)) + sum(
        (f.charges for f in features), Decimal(0)
    )
    return RatedConference(
        conference_id=conference_id,
        currency=currency,
        first_connected_at=first,
        last_disconnected_at=last,
        duration_minutes=duration,
        total_minutes=sum(s.minutes for s in site_lines),
        total_charges=round_line(total, currency),
        sites=tuple(site_lines),
        features=tuple(features),
    )
