"""Rate plans: versions of a customer's prices, validated and turned into rating's `Plan`."""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from babel.numbers import UnknownCurrencyError, get_currency_name
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from billing.models import RatePlan
from billing.service.rating import FEATURE_PERS, Feature, Plan, SpeedTier, Zone
from billing.service.roles import require_runner
from bridgedesk.clock import utcnow
from bridgedesk.db import add_unique
from bridgedesk.errors import Conflict, InvalidInput
from bridgedesk.identity import Actor
from reservations.service import registry

# Prices carry at most this many decimal places (rates below the minor unit are common:
# 0.0125 per minute); whole parts stay within what a human would type.
PRICE_PLACES = 6
PRICE_MAX = Decimal("1000000")
CODE = re.compile(r"[A-Za-z0-9_.-]{1,40}")


class PlanVersionExists(Conflict):
    message = "The customer already has a rate plan taking effect on that date."


class CurrencyChange(Conflict):
    message = "All versions of a customer's rate plan must use the same currency."


@dataclass(frozen=True)
class TierData:
    up_to_kbps: int | None
    per_minute: str


@dataclass(frozen=True)
class ZoneData:
    multiplier: str | None = None
    surcharge_per_minute: str | None = None


@dataclass(frozen=True)
class FeatureData:
    code: str
    name: str
    per: str
    price: str


@dataclass(frozen=True)
class PlanData:
    customer_id: int
    currency: str
    effective_from: date
    speed_tiers: Sequence[TierData]
    zones: dict[str, ZoneData]
    features: Sequence[FeatureData]


def parse_amount(value: str, what: str, *, places: int = PRICE_PLACES) -> Decimal:
    """A non-negative decimal from its string; anything else is a 422 naming `what`."""
    try:
        amount = Decimal(value.strip())
    except (InvalidOperation, AttributeError):
        raise InvalidInput(f'{what} must be a decimal string, e.g. "0.25".') from None
    if not amount.is_finite() or amount < 0 or amount >= PRICE_MAX:
        raise InvalidInput(f"{what} must be at least 0 and below {PRICE_MAX}.")
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        raise InvalidInput(f"{what} has more than {places} decimal places.")
    return amount


def check_currency(code: str) -> str:
    code = code.strip().upper()
    try:
        if not re.fullmatch(r"[A-Z]{3}", code) or get_currency_name(code) == code:
            raise InvalidInput(f"{code!r} is not an ISO 4217 currency code.")
    except UnknownCurrencyError:
        raise InvalidInput(f"{code!r} is not an ISO 4217 currency code.") from None
    return code


def _normalized(data: PlanData) -> tuple[list[dict[str, Any]], dict[str, Any], list[Any]]:
    if not data.speed_tiers:
        raise InvalidInput("A rate plan needs at least one speed tier.")
    bounds = [t.up_to_kbps for t in data.speed_tiers]
    if bounds.count(None) != 1:
        raise InvalidInput("Exactly one speed tier must be open-ended (up_to_kbps null).")
    bounded = [b for b in bounds if b is not None]
    if any(b <= 0 for b in bounded) or len(set(bounded)) != len(bounded):
        raise InvalidInput("Speed tier bounds must be positive and distinct.")
    tiers = sorted(
        (
            {
                "up_to_kbps": t.up_to_kbps,
                "per_minute": str(parse_amount(t.per_minute, f"per_minute of tier {i + 1}")),
            }
            for i, t in enumerate(data.speed_tiers)
        ),
        key=lambda t: (t["up_to_kbps"] is None, t["up_to_kbps"] or 0),
    )
    zones: dict[str, Any] = {}
    for code, zone in data.zones.items():
        if not CODE.fullmatch(code):
            raise InvalidInput(f"Zone code {code!r} must be 1-40 letters, digits or -_.")
        zones[code] = {
            "multiplier": str(parse_amount(zone.multiplier or "1", f"multiplier of zone {code}")),
            "surcharge_per_minute": str(
                parse_amount(zone.surcharge_per_minute or "0", f"surcharge of zone {code}")
            ),
        }
    features: list[dict[str, Any]] = []
    for feature in data.features:
        if not CODE.fullmatch(feature.code):
            raise InvalidInput(f"Feature code {feature.code!r} must be 1-40 letters or digits.")
        if feature.per not in FEATURE_PERS:
            raise InvalidInput(f"Feature {feature.code}: per must be one of {FEATURE_PERS}.")
        if not 1 <= len(feature.name.strip()) <= 200:
            raise InvalidInput(f"Feature {feature.code} needs a name (up to 200 characters).")
        features.append(
            {
                "code": feature.code,
                "name": feature.name.strip(),
                "per": feature.per,
                "price": str(parse_amount(feature.price, f"price of feature {feature.code}")),
            }
        )
    if len({f["code"] for f in features}) != len(features):
        raise InvalidInput("Feature codes must be distinct.")
    return tiers, zones, features


async def create_plan(session: AsyncSession, data: PlanData, *, by: Actor | None) -> RatePlan:
    """A new version of the customer's plan; legs connecting from `effective_from` use it."""
    require_runner(by, "set rate plans")
    currency = check_currency(data.currency)
    if by is not None:
        await registry.get_customer(session, data.customer_id, by=by)
    tiers, zones, features = _normalized(data)
    others = (
        await session.scalars(
            select(RatePlan.currency).where(RatePlan.customer_id == data.customer_id)
        )
    ).all()
    if any(other != currency for other in others):
        raise CurrencyChange()
    plan = RatePlan(
        customer_id=data.customer_id,
        currency=currency,
        effective_from=data.effective_from,
        speed_tiers=tiers,
        zones=zones,
        features=features,
        created_at=utcnow(),
        created_by=by.email if by else "command line",
    )
    await add_unique(session, plan, PlanVersionExists())
    return plan


async def list_plans(
    session: AsyncSession, *, customer_id: int | None, by: Actor
) -> Sequence[RatePlan]:
    require_runner(by, "read rate plans")
    query = select(RatePlan).order_by(RatePlan.customer_id, RatePlan.effective_from)
    if customer_id is not None:
        query = query.where(RatePlan.customer_id == customer_id)
    return (await session.scalars(query)).all()


def as_plan(row: RatePlan) -> Plan:
    return Plan(
        id=row.id,
        currency=row.currency,
        effective_from=row.effective_from,
        speed_tiers=tuple(
            SpeedTier(t["up_to_kbps"], Decimal(t["per_minute"])) for t in row.speed_tiers
        ),
        zones={
            code: Zone(Decimal(z["multiplier"]), Decimal(z["surcharge_per_minute"]))
            for code, z in row.zones.items()
        },
        features={
            f["code"]: Feature(f["code"], f["name"], f["per"], Decimal(f["price"]))
            for f in row.features
        },
    )


async def plans_by_customer(
    session: AsyncSession, customer_ids: Sequence[int] | None
) -> dict[int, list[Plan]]:
    """Every version of the customers' plans, in one query."""
    query = select(RatePlan)
    if customer_ids is not None:
        query = query.where(RatePlan.customer_id.in_(list(customer_ids)))
    found: dict[int, list[Plan]] = {}
    for row in await session.scalars(query):
        found.setdefault(row.customer_id, []).append(as_plan(row))
    return found
