"""Billing fixtures: rate plans, conferences held in the past, and their call records.

Conferences are inserted as rows (booking refuses past starts); call records are inserted
into the bridge's table as the bridge or an import would have stored them.
"""

import itertools
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
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


SEP_30_NY = datetime(2026, 10, 1, 2, 0, tzinfo=UTC)  # 22:00 on 30 September in New York
A = datetime(2026, 10, 5, 14, 0, tzinfo=UTC)
B = datetime(2026, 10, 10, 15, 0, tzinfo=UTC)
C = datetime(2026, 10, 15, 3, 30, tzinfo=UTC)  # 23:30 on the 14th in New York
D = datetime(2026, 10, 20, 12, 0, tzinfo=UTC)
E = datetime(2026, 10, 22, 12, 0, tzinfo=UTC)
F = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)  # 23:00 on 31 October in New York

FEATURES_V1 = (
    ("REC", "Recording", "conference", "5.00"),
    ("TRN", "Transcription", "minute", "0.015"),
    ("HD", "HD video", "site", "2.50"),
)


@pytest.fixture
async def october(db, make_customer, make_site, make_plan, held_conference, add_leg):
    """Acme's October 2026 in New York time: the month every test below bills."""
    acme = await make_customer(
        timezone="America/New_York", billing_emails=["ap@acme.example", "cfo@acme.example"]
    )
    ny = await make_site(customer=acme, name="New York", billing_zone="US", max_speed_kbps=2048)
    london = await make_site(customer=acme, name="London", billing_zone="EU")
    chicago = await make_site(customer=acme, name="Chicago", billing_zone="US")
    await make_plan(acme, effective_from=date(2026, 1, 1), features=FEATURES_V1)
    await make_plan(
        acme,
        effective_from=date(2026, 10, 15),
        tiers=((384, "0.12"), (768, "0.24"), (1536, "0.40"), (2048, "0.60"), (None, "1.00")),
        features=(
            ("REC", "Recording", "conference", "6.00"),
            ("TRN", "Transcription", "minute", "0.015"),
        ),
    )
    sites = [ny, london, chicago]
    # A: drop and reconnect, an overrun, Chicago never connects, a feature of each per.
    a = await held_conference(acme, sites, A, features=["REC", "TRN", "HD"])
    await add_leg(a, ny, A, 601, 768)  # 11 min
    await add_leg(a, ny, A + timedelta(seconds=700), 299, 768)  # 5 min -> NY 16 x 0.20 = 3.20
    await add_leg(a, london, A, 3661, 2048)  # 62 min x (0.50 x 1.5 + 0.05) = 49.60
    # B: 59, 60 and 61 seconds on the 384, 768 and 1536 boundaries.
    b = await held_conference(acme, sites, B, project_code=None)
    await add_leg(b, ny, B, 59, 384)  # 1 x 0.10
    await add_leg(b, london, B, 60, 768)  # 1 x (0.20 x 1.5 + 0.05) = 0.35
    await add_leg(b, chicago, B, 61, 1536)  # 2 x 0.35 = 0.70
    # C: the plan changes at New York midnight between its two legs.
    c = await held_conference(acme, [ny], C, features=["REC"])
    await add_leg(c, ny, C, 600, 1536)  # old plan: 10 x 0.35 = 3.50
    await add_leg(c, ny, C + timedelta(hours=1), 600, 1536)  # new plan: 10 x 0.40 = 4.00
    # D (new plan): a per-minute feature on half a cent: 7 x 0.015 = 0.105 -> 0.11 (half up,
    # where half-even would give 0.10).
    d = await held_conference(acme, [ny], D, features=["TRN"])
    await add_leg(d, ny, D, 420, 768)  # 7 x 0.24 = 1.68
    # E: booked, nobody connected: not billed at all.
    await held_conference(acme, sites, E, features=["REC"])
    # F: held outside the service (recorded, imported records), 31 October in New York.
    f = await held_conference(acme, [london], F, recorded=True)
    await add_leg(f, london, F, 60, 768, source="import")  # 1 x (0.24 x 1.5 + 0.05) = 0.41
    # 30 September in New York: another month.
    other = await held_conference(acme, [ny], SEP_30_NY)
    await add_leg(other, ny, SEP_30_NY, 600, 768)
    return {
        "customer": acme,
        "sites": {"ny": ny, "london": london, "chicago": chicago},
        "conferences": {"A": a, "B": b, "C": c, "D": d, "F": f, "other": other},
    }
