"""Billing's demo data: a rate plan per demo customer (two currencies), and last month drafted."""

from collections.abc import Sequence
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from billing.service import drafting, plans
from billing.service.periods import period_of, previous_period
from bridgedesk.clock import utcnow
from reservations.models import Customer

# Demo customers in order: Acme pays in US dollars, Kiribati Shipping in Australian dollars.
CURRENCIES = ("USD", "AUD")
TIERS = (
    (384, "0.12"),
    (768, "0.22"),
    (1536, "0.38"),
    (2048, "0.55"),
    (None, "0.85"),
)
ZONES = {
    "US-EAST": plans.ZoneData(),
    "US-CENTRAL": plans.ZoneData(),
    "US-WEST": plans.ZoneData(surcharge_per_minute="0.02"),
    "EU": plans.ZoneData(multiplier="1.4", surcharge_per_minute="0.05"),
    "PACIFIC": plans.ZoneData(multiplier="1.25", surcharge_per_minute="0.03"),
}
FEATURES = (
    plans.FeatureData("REC", "Recording", "conference", "15.00"),
    plans.FeatureData("TRN", "Live transcription", "minute", "0.045"),
    plans.FeatureData("HD", "HD video", "site", "4.50"),
)


async def load_billing_demo(session: AsyncSession, customers: Sequence[Customer]) -> int:
    """Rate plans in force since the start of last year; drafts for last month (if any
    call records exist, e.g. the bridge's demo month). Returns the number of drafts."""
    today = utcnow().date()
    for customer, currency in zip(customers, CURRENCIES, strict=False):
        await plans.create_plan(
            session,
            plans.PlanData(
                customer_id=customer.id,
                currency=currency,
                effective_from=date(today.year - 1, 1, 1),
                speed_tiers=[plans.TierData(up, price) for up, price in TIERS],
                zones=dict(ZONES),
                features=FEATURES,
            ),
            by=None,
        )
    last_month = previous_period(period_of(utcnow(), ZoneInfo("UTC")))
    result = await drafting.run_month(session, last_month, by=None)
    return len(result.drafted)
