"""On PostgreSQL, with several web workers: requests racing on the same site's certification
(the record made on first sight, a result copied, a sign-off) leave one consistent outcome."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bridgedesk.db import create_engine_for
from bridgedesk.errors import Conflict
from bridgedesk.identity import Actor, Role
from certification.models import CertificationHistory, CertificationRecord, CertificationSignOff
from certification.service import calls, records
from reservations.models import SiteKind
from reservations.service import registry
from tests.certification.probes import finish_probe
from tests.conftest import create_pg_database, drop_pg_database

pytestmark = pytest.mark.postgres

TECH = Actor(user_id=1, role=Role.TECHNICIAN, name="Tess", email="tess@example.com")
ADMIN = Actor(user_id=2, role=Role.ADMIN, name="Ada", email="ada@example.com")

Sessions = Callable[[], AsyncIterator[AsyncSession]]


@pytest.fixture(scope="module")
async def committed() -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    url = create_pg_database("bridgedesk_cert_race")
    engine = create_engine_for(url)
    try:
        yield async_sessionmaker(engine, expire_on_commit=False)
    finally:
        await engine.dispose()
        drop_pg_database(url)


async def new_site(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session, session.begin():
        customer = await registry.create_customer(
            session, registry.CustomerData(f"C {uuid.uuid4().hex[:6]}", "UTC"), by=None
        )
        site = await registry.create_site(
            session,
            registry.SiteData(
                customer_id=customer.id,
                name="Room",
                kind=SiteKind.ROOM,
                timezone="UTC",
                sip_uri="sip:room@127.0.0.1",
                max_speed_kbps=768,
                billing_zone="EU",
                contacts=[{"name": "Tess"}],
            ),
            by=ADMIN,
        )
        return site.id


async def test_first_sight_of_a_new_site_by_many_requests_makes_one_record(committed):
    site_id = await new_site(committed)

    async def look() -> str:
        async with committed() as session, session.begin():
            _, record = await records.get_record(session, site_id, by=TECH)
            await asyncio.sleep(0.05)  # hold the transaction open while the others arrive
            return record.state

    assert await asyncio.gather(*(look() for _ in range(8))) == ["registered"] * 8
    async with committed() as session:
        made = await session.scalar(
            select(func.count()).where(CertificationRecord.site_id == site_id)
        )
        registered = await session.scalar(
            select(func.count()).where(
                CertificationHistory.site_id == site_id, CertificationHistory.field == "site"
            )
        )
    assert (made, registered) == (1, 1)


async def test_concurrent_sign_offs_certify_once(committed):
    site_id = await new_site(committed)
    async with committed() as session, session.begin():
        test = await calls.request_test(session, site_id, by=TECH)
        await finish_probe(session, test.probe_id)
    async with committed() as session, session.begin():
        assert await calls.collect_results(session, site_id) == 1  # the result is in

    async def sign() -> str:
        async with committed() as session:
            try:
                async with session.begin():
                    await calls.sign_off(session, site_id, by=TECH)
                    await asyncio.sleep(0.05)
                return "certified"
            except Conflict:
                return "refused"

    outcomes = await asyncio.gather(*(sign() for _ in range(5)))
    assert sorted(outcomes) == ["certified"] + ["refused"] * 4
    async with committed() as session:
        sign_offs = await session.scalar(
            select(func.count()).where(CertificationSignOff.site_id == site_id)
        )
        copied = await session.scalar(
            select(func.count()).where(
                CertificationHistory.site_id == site_id,
                CertificationHistory.field == "test",
                CertificationHistory.before == "pending",
            )
        )
    assert (sign_offs, copied) == (1, 1)


async def test_concurrent_collection_copies_a_result_once(committed):
    site_id = await new_site(committed)
    async with committed() as session, session.begin():
        test = await calls.request_test(session, site_id, by=TECH)
        await finish_probe(session, test.probe_id)

    async def collect() -> int:
        async with committed() as session, session.begin():
            found = await calls.collect_results(session, site_id)
            await asyncio.sleep(0.05)
            return found

    assert sorted(await asyncio.gather(*(collect() for _ in range(5)))) == [0, 0, 0, 0, 1]
