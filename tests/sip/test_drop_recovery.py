"""Drop recovery against real SIP: the engine (pjsua2 worker processes) dials sipp sites on
loopback while the launch and supervision jobs run in this process, as the worker runs them.

A site that hangs up mid-call is redialed and connected again; a site that never comes back
gets its audio link (a second sipp) once the recovery window (shortened by configuration)
has passed, and its contact chain is told in order, by mail through a real SMTP server."""

import time
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bridge.models import CallRecord, Incident, IncidentEvent, Launch, LegAttempt
from bridgedesk import outbox
from bridgedesk.models import OutboxMessage, User
from reservations.models import Conference, Customer
from tests.mail import SmtpServer
from tests.sip.conferences import (
    book_now,
    connected_then_dropped,
    jobs_on,
    rows,
    run_jobs_until,
)
from tests.sip.conftest import session_on
from tests.sip.sipp import sipp_uas

pytestmark = pytest.mark.postgres


@pytest.fixture
async def jobs_on_engine_database(engine, monkeypatch) -> AsyncIterator[str]:
    """The jobs in this process work on the engine's committed database."""
    async with jobs_on(engine.database_url, monkeypatch) as url:
        yield url


async def test_a_site_that_hangs_up_mid_call_is_redialed_and_connected_again(
    jobs_on_engine_database,
):
    url = jobs_on_engine_database
    # The site answers every call, holds it 2.5 s, then hangs up (BYE).
    with sipp_uas("answer_then_bye", pause_ms=2500) as site:
        conference_id = await book_now(url, [{"name": "Boardroom", "sip_uri": site.uri()}])
        first = (await connected_then_dropped(url, conference_id))[0]
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
            await connected_then_dropped(url, conference_id)
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
