"""Billing fixtures: rate plans, conferences held in the past, and their call records.

Conferences are inserted as rows (booking refuses past starts); call records are inserted
into the bridge's table as the bridge or an import would have stored them.
"""

import itertools
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from billing.models import RatePlan
from billing.service import plans
from bridge.models import CallRecord
from bridgedesk.clock import utcnow
from bridgedesk.identity import Role
from reservations.models import Conference, Customer, Site, SiteHold
from tests.conftest import Factory

_numbers = itertools.count(1)

STANDARD_TIERS = (
    (384, "0.10"),
    (768, "0.20"),
    (1536, "0.35"),
    (2048, "0.50"),
    (None, "0.80"),
)


@pytest.fixture
def make_plan(db: AsyncSession) -> Factory:
    async def make(customer: Customer, **overrides: Any) -> RatePlan:
        tiers = overrides.pop("tiers", STANDARD_TIERS)
        zones = overrides.pop(
            "zones", {"US": {}, "EU": {"multiplier": "1.5", "surcharge_per_minute": "0.05"}}
        )
        features = overrides.pop("features", ())
        data = plans.PlanData(
            customer_id=customer.id,
            currency=overrides.pop("currency", "USD"),
            effective_from=overrides.pop("effective_from", date(2026, 1, 1)),
            speed_tiers=[plans.TierData(up, price) for up, price in tiers],
            zones={code: plans.ZoneData(**zone) for code, zone in zones.items()},
            features=[plans.FeatureData(*feature) for feature in features],
        )
        assert not overrides, overrides
        return await plans.create_plan(db, data, by=None)

    return make


@pytest.fixture
def held_conference(db: AsyncSession, make_user: Factory) -> Factory:
    """A conference that was held at `start` (a past instant), as a row."""

    async def make(
        customer: Customer,
        sites: Sequence[Site],
        start: datetime,
        *,
        minutes: int = 60,
        features: Sequence[str] = (),
        project_code: str | None = "PRJ-7",
        recorded: bool = False,
        status: str = "ended",
    ) -> Conference:
        requester = await make_user(Role.SCHEDULER, customer_id=customer.id, name="Riley Requester")
        conference = Conference(
            number=f"C-{start.year}-{next(_numbers) + 900000:06d}",
            customer_id=customer.id,
            title="Quarterly review",
            leader_name="Lee Leader",
            requester_id=requester.id,
            requester_name="Riley Requester",
            project_code=project_code,
            features=list(features),
            starts_at=start,
            ends_at=start + timedelta(minutes=minutes),
            status=status,
            recorded=recorded,
            booked_at=start - timedelta(days=3),
            sites=[
                SiteHold(
                    site_id=site.id,
                    speed_kbps=site.max_speed_kbps,
                    starts_at=start,
                    ends_at=start + timedelta(minutes=minutes),
                    held=True,
                )
                for site in sites
            ],
        )
        db.add(conference)
        await db.flush()
        return conference

    return make


@pytest.fixture
def add_leg(db: AsyncSession) -> Factory:
    """One call record: `site` connected to `conference` at `at` for `seconds`."""

    async def add(
        conference: Conference,
        site: Site,
        at: datetime,
        seconds: float,
        speed_kbps: int = 768,
        source: str = "bridge",
    ) -> CallRecord:
        record = CallRecord(
            conference_id=conference.id,
            conference_number=conference.number,
            customer_id=conference.customer_id,
            site_id=site.id,
            bridge_id=None,
            leg_id=None,
            connected_at=at,
            disconnected_at=at + timedelta(seconds=seconds),
            speed_kbps=speed_kbps,
            disconnect_cause="normal",
            source=source,
            created_at=utcnow(),
        )
        db.add(record)
        await db.flush()
        return record

    return add
