"""Two schedulers at once on PostgreSQL (committed transactions, separate connections): a
conference is launched once and a dropped leg is redialed once."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bridge.jobs import launch_due_conferences_job, supervise_legs_job
from bridge.models import Dial, Launch, Leg
from bridge.service import recovery
from bridgedesk.auth import actor_of
from bridgedesk.clock import utcnow
from bridgedesk.db import create_engine_for, database
from bridgedesk.identity import Role
from bridgedesk.models import User
from bridgedesk.settings import get_settings
from reservations.models import Customer, Site
from reservations.service import booking
from tests.conftest import create_pg_database, drop_pg_database

pytestmark = pytest.mark.postgres
T0 = datetime(2031, 7, 1, 10, 0, tzinfo=UTC)
SITES = 6


@pytest.fixture
async def committed() -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A migrated PostgreSQL database the jobs run on with real, committed transactions."""
    get_settings.cache_clear()
    url = create_pg_database("bridgedesk_legs")
    engine = create_engine_for(url)
    database.use(engine)
    try:
        yield async_sessionmaker(engine, expire_on_commit=False)
    finally:
        await database.dispose()
        drop_pg_database(url)


async def book(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session, session.begin():
        with time_machine.travel(T0 - timedelta(days=1), tick=False):
            customer = Customer(name="Racing", timezone="UTC", created_at=utcnow())
            session.add(customer)
            await session.flush()
            sites = [
                Site(
                    customer_id=customer.id,
                    name=f"Room {i}",
                    kind="room",
                    timezone="UTC",
                    sip_uri=f"sip:room{i}@127.0.0.1",
                    max_speed_kbps=768,
                    billing_zone="US",
                    contacts=[],
                    created_at=utcnow(),
                )
                for i in range(SITES)
            ]
            user = User(
                email="racer@example.com",
                name="Racer",
                password_hash="-",
                role=Role.SCHEDULER,
                customer_id=customer.id,
                created_at=utcnow(),
            )
            session.add_all([*sites, user])
            await session.flush()
            conference = await booking.book(
                session,
                booking.BookingRequest(
                    customer.id,
                    "Race",
                    "Lee",
                    T0,
                    T0 + timedelta(hours=1),
                    [booking.SiteRequest(s.id) for s in sites],
                ),
                by=actor_of(user),
            )
            return conference.id


async def count(sessions: async_sessionmaker[AsyncSession], query: object) -> int:
    async with sessions() as session:
        return int(await session.scalar(query) or 0)  # type: ignore[call-overload]


async def test_two_schedulers_launch_once_and_redial_a_drop_once(committed):
    sessions = committed
    conference_id = await book(sessions)
    with time_machine.travel(T0 + timedelta(seconds=1), tick=False):
        launched = await asyncio.gather(*(launch_due_conferences_job() for _ in range(4)))
    assert sorted(launched) == [0, 0, 0, 1]
    assert await count(sessions, select(func.count(Launch.id))) == 1
    assert await count(sessions, select(func.count(Dial.id))) == SITES

    async with sessions() as session, session.begin():
        for dial in (await session.scalars(select(Dial))).all():
            dial.status, dial.connected_at = "connected", T0 + timedelta(seconds=2)
    with time_machine.travel(T0 + timedelta(seconds=3), tick=False):
        await supervise_legs_job()
    async with sessions() as session, session.begin():
        for dial in (await session.scalars(select(Dial))).all():
            dial.status, dial.ended_at = "ended", T0 + timedelta(minutes=5)
            dial.end_reason = "remote_bye"
    # Every site drops at once. One supervisor holds its pass open (not committed) while a
    # second one runs: the second finds every leg taken and dials nothing.
    with time_machine.travel(T0 + timedelta(minutes=5, seconds=1), tick=False):
        async with sessions() as first, first.begin():
            assert await recovery.supervise(first, now=utcnow()) > 0
            async with sessions() as second, second.begin():
                # Waiting on the first's locks would hang this single task: fail instead.
                await second.execute(text("SET LOCAL lock_timeout = '3s'"))
                assert await recovery.supervise(second, now=utcnow()) == 0
        # And a few more together, after the first committed: nothing new to do.
        await asyncio.gather(*(supervise_legs_job() for _ in range(3)))
    redials = select(func.count(Dial.id)).where(Dial.purpose == "redial")
    assert await count(sessions, redials) == SITES
    reconnecting = select(func.count(Leg.id)).where(
        Leg.conference_id == conference_id, Leg.state == "reconnecting"
    )
    assert await count(sessions, reconnecting) == SITES
