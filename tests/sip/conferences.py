"""Conferences against the real SIP engine: book one now (sites written straight into the
database), run the launch and supervision jobs in this process as the worker runs them, and
read back legs and rows. Used by the drop recovery, mixing, priority and affinity tests."""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from bridge.jobs import launch_due_conferences_job, supervise_legs_job
from bridge.models import Dial, Leg
from bridgedesk.auth import actor_of
from bridgedesk.clock import utcnow
from bridgedesk.db import create_engine_for, database
from bridgedesk.identity import Role
from bridgedesk.models import User
from bridgedesk.settings import get_settings
from reservations.models import Customer, Site
from reservations.service import booking
from tests.sip.conftest import session_on

# The 5-minute window and its backoff, shortened for the test (production stays at 300 s).
RECOVERY_ENV = {
    "BRIDGEDESK_RECOVERY_WINDOW_SECONDS": "4",
    "BRIDGEDESK_REDIAL_BACKOFF_INITIAL_SECONDS": "0.5",
    "BRIDGEDESK_REDIAL_BACKOFF_CAP_SECONDS": "1",
    "BRIDGEDESK_CONTACT_CHAIN_STEP_SECONDS": "0",
}


@asynccontextmanager
async def jobs_on(
    url: str, monkeypatch: pytest.MonkeyPatch, env: dict[str, str] | None = None
) -> AsyncIterator[str]:
    """The jobs in this process work on the engine's committed database at `url`."""
    for name, value in {**RECOVERY_ENV, **(env or {}), "BRIDGEDESK_DATABASE_URL": url}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    database.use(create_engine_for(url))
    try:
        yield url
    finally:
        await database.dispose()
        get_settings.cache_clear()


async def book_now(url: str, sites: list[dict[str, Any]]) -> int:
    """A customer with the given sites and a conference of them starting in a second."""
    tag = uuid.uuid4().hex[:6]
    async with session_on(url) as session:
        customer = Customer(
            name=f"Drop test {tag}",
            timezone="UTC",
            billing_emails=[],
            primary_contact={"name": "Pat Primary", "email": f"primary-{tag}@example.com"},
            created_at=utcnow(),
        )
        session.add(customer)
        await session.flush()
        rows = [
            Site(
                customer_id=customer.id,
                name=site["name"],
                kind="room",
                timezone="UTC",
                sip_uri=site["sip_uri"],
                audio_uri=site.get("audio_uri"),
                max_speed_kbps=768,
                billing_zone="US",
                contacts=site.get("contacts", []),
                certification_state="certified",
                created_at=utcnow(),
            )
            for site in sites
        ]
        session.add_all(rows)
        scheduler = User(
            email=f"scheduler-{tag}@example.com",
            name="Sam Scheduler",
            password_hash="-",
            role=Role.SCHEDULER,
            customer_id=customer.id,
            active=True,
            created_at=utcnow(),
        )
        session.add(scheduler)
        await session.flush()
        start = utcnow() + timedelta(seconds=1)
        conference = await booking.book(
            session,
            booking.BookingRequest(
                customer_id=customer.id,
                title="Drop test",
                leader_name="Lee",
                start=start,
                end=start + timedelta(minutes=30),
                sites=[booking.SiteRequest(row.id) for row in rows],
            ),
            by=actor_of(scheduler),
        )
        return conference.id


async def legs(url: str, conference_id: int) -> list[Leg]:
    async with session_on(url) as session:
        return list(
            (
                await session.scalars(
                    select(Leg).where(Leg.conference_id == conference_id).order_by(Leg.id)
                )
            ).all()
        )


async def run_jobs_until(
    url: str, conference_id: int, done: Callable[[list[Leg]], bool], *, within: float, what: str
) -> list[Leg]:
    """Launch and supervise, as the worker would, until `done(legs)` or the time is up."""
    deadline = time.monotonic() + within
    while True:
        await launch_due_conferences_job()
        await supervise_legs_job()
        current = await legs(url, conference_id)
        if current and done(current):
            return current
        if time.monotonic() > deadline:
            states = [(leg.kind, leg.state, leg.dial_id) for leg in current]
            raise AssertionError(f"{what}: not within {within} s; legs {states}")
        await asyncio.sleep(0.1)


async def connected_then_dropped(url: str, conference_id: int) -> list[Leg]:
    """Run the jobs until the first site's call is connected (within 15 s), then until its
    far end's hang-up is seen as a drop (within 10 s); the legs as they were when connected."""
    connected = await run_jobs_until(
        url, conference_id, lambda ls: ls[0].state == "connected", within=15, what="launch"
    )
    await run_jobs_until(
        url,
        conference_id,
        lambda ls: ls[0].state in ("dropped", "reconnecting"),
        within=10,
        what="the site's hang-up seen as a drop",
    )
    return connected


async def rows(url: str, query: Any) -> list[Any]:
    async with session_on(url) as session:
        return list((await session.scalars(query)).all())


async def hang_up(url: str, *conference_ids: int) -> None:
    """End the conferences now and wait until the engine hung up every call, while their
    far ends still answer the BYE: pjsua holds a call's slot until its BYE is answered (or
    times out after 32 s), and the next test's calls must not wait behind this one's."""
    from reservations.service import live

    async with session_on(url) as session:
        for conference_id in conference_ids:
            await live.mark_ended(session, conference_id, utcnow())
    await supervise_legs_job()
    ids = list(conference_ids)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        async with session_on(url) as session:
            live_dials = await session.scalar(
                select(func.count(Dial.id)).where(
                    Dial.conference_id.in_(ids), Dial.status != "ended"
                )
            )
        if not live_dials:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)  # the BYEs' answers
