"""Drop recovery against real SIP: the engine (pjsua2 worker processes) dials sipp sites on
loopback while the launch and supervision jobs run in this process, as the worker runs them.

A site that hangs up mid-call is redialed and connected again; a site that never comes back
gets its audio link (a second sipp) once the recovery window (shortened by configuration)
has passed, and its contact chain is told in order, by mail through a real SMTP server."""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bridge.jobs import launch_due_conferences_job, supervise_legs_job
from bridge.models import CallRecord, Incident, IncidentEvent, Launch, Leg, LegAttempt
from bridgedesk import outbox
from bridgedesk.auth import actor_of
from bridgedesk.clock import utcnow
from bridgedesk.db import create_engine_for, database
from bridgedesk.identity import Role
from bridgedesk.models import OutboxMessage, User
from bridgedesk.settings import get_settings
from reservations.models import Conference, Customer, Site
from reservations.service import booking
from tests.mail import SmtpServer
from tests.sip.conftest import session_on
from tests.sip.sipp import sipp_uas

pytestmark = pytest.mark.postgres

# The 5-minute window and its backoff, shortened for the test (production stays at 300 s).
RECOVERY_ENV = {
    "BRIDGEDESK_RECOVERY_WINDOW_SECONDS": "4",
    "BRIDGEDESK_REDIAL_BACKOFF_INITIAL_SECONDS": "0.5",
    "BRIDGEDESK_REDIAL_BACKOFF_CAP_SECONDS": "1",
    "BRIDGEDESK_CONTACT_CHAIN_STEP_SECONDS": "0",
}


@pytest.fixture
async def jobs_on_engine_database(engine, monkeypatch) -> AsyncIterator[str]:
    """The jobs in this process work on the engine's committed database."""
    for name, value in {**RECOVERY_ENV, "BRIDGEDESK_DATABASE_URL": engine.database_url}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    database.use(create_engine_for(engine.database_url))
    try:
        yield engine.database_url
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


async def rows(url: str, query: Any) -> list[Any]:
    async with session_on(url) as session:
        return list((await session.scalars(query)).all())


async def test_a_site_that_hangs_up_mid_call_is_redialed_and_connected_again(
    jobs_on_engine_database,
):
    url = jobs_on_engine_database
    # The site answers every call, holds it 2.5 s, then hangs up (BYE).
    with sipp_uas("answer_then_bye", pause_ms=2500) as site:
        conference_id = await book_now(url, [{"name": "Boardroom", "sip_uri": site.uri()}])
        await run_jobs_until(
            url,
            conference_id,
            lambda ls: ls[0].state == "connected",
            within=15,
            what="launch connected",
        )
        first = (await legs(url, conference_id))[0]
        await run_jobs_until(
            url,
            conference_id,
            lambda ls: ls[0].state in ("dropped", "reconnecting"),
            within=10,
            what="the site's BYE seen as a drop",
        )
        [back] = await run_jobs_until(
            url,
            conference_id,
            lambda ls: ls[0].state == "connected" and ls[0].connected_at != first.connected_at,
            within=10,
            what="redialed and connected again",
        )
    assert back.id == first.id and back.kind == "video"
    [incident] = await rows(url, select(Incident).where(Incident.conference_id == conference_id))
    assert incident.kind == "dropped" and incident.restored_at is not None
    restored_in = (incident.restored_at - incident.began_at).total_seconds()
    assert restored_in < 3, restored_in
    kinds = await rows(
        url,
        select(IncidentEvent.kind)
        .where(IncidentEvent.incident_id == incident.id)
        .order_by(IncidentEvent.id),
    )
    assert kinds == ["dropped", "redial", "restored"]
    [record] = await rows(url, select(CallRecord).where(CallRecord.conference_id == conference_id))
    assert record.disconnect_cause == "remote_bye" and record.source == "bridge"
    held = (record.disconnected_at - record.connected_at).total_seconds()
    assert 2.0 <= held <= 3.5, held
    attempts = await rows(
        url,
        select(LegAttempt).where(LegAttempt.leg_id == back.id).order_by(LegAttempt.id),
    )
    assert [(a.purpose, a.cause) for a in attempts] == [("launch", "ok"), ("redial", "ok")]
    [launch] = await rows(url, select(Launch).where(Launch.conference_id == conference_id))
    assert launch.on_time is True


async def test_a_site_that_never_comes_back_gets_its_audio_link_and_its_contacts_in_order(
    jobs_on_engine_database, smtp_server: SmtpServer
):
    url = jobs_on_engine_database
    contacts = [
        {"name": "Tess Tech", "email": "tess@site.example"},
        {"name": "Nick Night", "email": "nick@site.example"},
    ]
    with sipp_uas("answer", pause_ms=0) as audio_line:
        # The site takes one call, hangs up after 1.5 s and is gone (sipp exits).
        with sipp_uas("answer_then_bye", pause_ms=1500, extra_args=("-m", "1")) as site:
            conference_id = await book_now(
                url,
                [
                    {
                        "name": "Boardroom",
                        "sip_uri": site.uri(),
                        "audio_uri": audio_line.uri("audio"),
                        "contacts": contacts,
                    }
                ],
            )
            await run_jobs_until(
                url,
                conference_id,
                lambda ls: ls[0].state == "connected",
                within=15,
                what="launch connected",
            )
            await run_jobs_until(
                url,
                conference_id,
                lambda ls: ls[0].state in ("dropped", "reconnecting"),
                within=10,
                what="the drop",
            )
        dropped_at = time.monotonic()
        video, audio = await run_jobs_until(
            url,
            conference_id,
            lambda ls: len(ls) == 2 and ls[1].state == "connected",
            within=20,
            what="the audio link connected",
        )
        waited = time.monotonic() - dropped_at
    assert video.state == "audio_fallback"
    assert (audio.kind, audio.parent_leg_id, audio.sip_uri) == (
        "audio",
        video.id,
        audio_line.uri("audio"),
    )
    # Not before the 4 s window (measured from the drop, which was seen a little earlier).
    [incident] = await rows(url, select(Incident).where(Incident.conference_id == conference_id))
    assert incident.audio_fallback_at is not None and incident.restored_at is None
    window = (incident.audio_fallback_at - incident.began_at).total_seconds()
    assert 4 <= window < 6, window
    assert waited < 8, waited
    events = await rows(
        url,
        select(IncidentEvent)
        .where(IncidentEvent.incident_id == incident.id)
        .order_by(IncidentEvent.id),
    )
    kinds = [e.kind for e in events]
    assert kinds[0] == "dropped" and "redial" in kinds
    assert kinds.index("audio_fallback_dialed") < kinds.index("contact_notified")
    notified = [e.recipient for e in events if e.kind == "contact_notified"]
    async with session_on(url) as session:
        scheduler, primary = (
            await session.execute(
                select(User.email, Customer.primary_contact)
                .join(Conference, Conference.requester_id == User.id)
                .join(Customer, Customer.id == Conference.customer_id)
                .where(Conference.id == conference_id)
            )
        ).one()
    chain = ["tess@site.example", "nick@site.example", scheduler, primary["email"]]
    assert notified == chain
    messages = await rows(
        url,
        select(OutboxMessage)
        .where(OutboxMessage.id.in_([e.outbox_message_id for e in events if e.outbox_message_id]))
        .order_by(OutboxMessage.id),
    )
    assert [m.recipients for m in messages] == [[address] for address in chain]

    # Delivered by the outbox sender to the real SMTP server, in the same order.
    await deliver_all()
    received = [to for to, message in smtp_server.mailbox.with_subject("Site down: Boardroom")]
    assert received[-4:] == [[address] for address in chain]


async def deliver_all() -> None:
    for _ in range(5):
        if not await outbox.send_due():
            break
