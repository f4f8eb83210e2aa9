"""Drops and recovery, driven by dial rows moved by hand (the engine's part) and jobs run at
chosen instants: redial at once then with backoff, the audio link and the contact chain at
the window, video restored, call records."""

import itertools
from datetime import timedelta

import pytest
from sqlalchemy import select

from bridge.jobs import launch_due_conferences_job
from bridge.models import CallRecord, Dial, Incident, IncidentEvent, LegAttempt
from bridge.service.leg_states import LegState
from bridgedesk.models import OutboxMessage
from bridgedesk.settings import Settings, get_settings
from tests.bridge.calls import connect, end, legs_of
from tests.bridge.launches import (
    SITE_DOWN,
    T0,
    launched_and_connected,
    run,
)

pytestmark = pytest.mark.usefixtures("recovery_settings")


async def test_a_drop_is_redialed_at_once_and_the_reconnection_closes_the_incident(db, conference):
    board, _lab = await launched_and_connected(db, conference)

    dropped_at = T0 + timedelta(minutes=10)
    await end(db, board, dropped_at, "remote_bye")
    await run(dropped_at + timedelta(seconds=1))
    board, _lab = await legs_of(db, conference.id)
    assert board.state == LegState.RECONNECTING
    redial = await db.get(Dial, board.dial_id)
    assert (redial.purpose, redial.sip_uri) == ("redial", "sip:board@127.0.0.1")
    records = (await db.scalars(select(CallRecord))).all()
    rows = [(r.site_id, r.connected_at, r.disconnected_at, r.disconnect_cause) for r in records]
    assert rows == [(board.site_id, T0 + timedelta(seconds=3), dropped_at, "remote_bye")]
    assert records[0].conference_number == conference.number
    assert records[0].speed_kbps == board.speed_kbps

    await connect(db, board, dropped_at + timedelta(seconds=4))
    await run(dropped_at + timedelta(seconds=5))
    board, _ = await legs_of(db, conference.id)
    assert board.state == LegState.CONNECTED
    incident = await db.scalar(select(Incident))
    assert (incident.kind, incident.cause, incident.began_at, incident.restored_at) == (
        "dropped",
        "client_not_synchronized",
        dropped_at,
        dropped_at + timedelta(seconds=4),
    )
    events = (await db.scalars(select(IncidentEvent.kind).order_by(IncidentEvent.id))).all()
    assert events == ["dropped", "redial", "restored"]
    assert (await db.scalars(SITE_DOWN)).all() == []


async def test_a_site_that_never_comes_back_gets_backoff_then_its_audio_link_and_the_contact_chain(
    db, conference
):
    board, _lab = await launched_and_connected(db, conference)

    dropped_at = T0 + timedelta(minutes=10)
    await end(db, board, dropped_at, "no_media")
    now = dropped_at + timedelta(seconds=1)
    await run(now)
    redials = [now]
    # Each redial fails at once (408): the next waits 10, 20, 40, 60, 60 ... seconds.
    while now < dropped_at + timedelta(seconds=299):
        board, _ = await legs_of(db, conference.id)
        if board.dial_id is not None:
            await end(db, board, now, "failed", final_status=408, cause="network")
        now += timedelta(seconds=1)
        await run(now)
        board, _ = await legs_of(db, conference.id)
        dial = await db.scalar(select(Dial).order_by(Dial.id.desc()).limit(1))
        if dial.requested_at == now and dial.leg_id == board.id:
            redials.append(now)
    gaps = [round((b - a).total_seconds()) for a, b in itertools.pairwise(redials)]
    assert gaps[:5] == [11, 21, 41, 61, 61]
    board, _ = await legs_of(db, conference.id)
    assert board.state in (LegState.DROPPED, LegState.RECONNECTING)
    assert (await db.scalars(SITE_DOWN)).all() == []

    # The window: the audio link goes out and the chain is told, in order.
    await run(dropped_at + timedelta(seconds=300))
    legs = await legs_of(db, conference.id)
    board, _lab, audio = legs
    assert board.state == LegState.AUDIO_FALLBACK
    assert (audio.kind, audio.parent_leg_id, audio.sip_uri, audio.state) == (
        "audio",
        board.id,
        "sip:board-audio@127.0.0.1",
        "dialing",
    )
    assert (await db.get(Dial, audio.dial_id)).purpose == "audio_fallback"
    messages = (await db.scalars(SITE_DOWN.order_by(OutboxMessage.id))).all()
    assert [m.recipients for m in messages] == [
        ["tess@customer.example"],
        ["nick@customer.example"],
        ["sam@customer.example"],
        ["primary@customer.example"],
    ]
    assert all("Boardroom" in m.subject for m in messages)
    timeline = (
        await db.scalars(select(IncidentEvent).where(IncidentEvent.kind.in_(("contact_notified",))))
    ).all()
    assert [(e.recipient, e.outbox_message_id) for e in timeline] == [
        (m.recipients[0], m.id) for m in messages
    ]
    # Running again tells nobody twice.
    await run(dropped_at + timedelta(seconds=301))
    assert len((await db.scalars(SITE_DOWN)).all()) == 4

    await connect(db, audio, dropped_at + timedelta(seconds=303))
    await run(dropped_at + timedelta(seconds=304))
    board, _lab, audio = await legs_of(db, conference.id)
    assert audio.state == LegState.CONNECTED

    # Video comes back later: the audio link is hung up and its record ends there.
    back = dropped_at + timedelta(seconds=400)
    while board.dial_id is None:
        back += timedelta(seconds=10)
        await run(back)
        board, _lab, audio = await legs_of(db, conference.id)
    await connect(db, board, back)
    await run(back + timedelta(seconds=1))
    board, _lab, audio = await legs_of(db, conference.id)
    assert (board.state, audio.state) == (LegState.CONNECTED, LegState.ENDED)
    audio_dial = await db.get(Dial, audio.dial_id)
    assert audio_dial.hangup_requested_at is not None
    audio_dial.status, audio_dial.ended_at = "ended", back + timedelta(seconds=2)
    audio_dial.end_reason = "hangup"
    await db.flush()
    await run(back + timedelta(seconds=3))
    record = await db.scalar(select(CallRecord).where(CallRecord.leg_id == audio.id))
    assert (record.connected_at, record.disconnected_at, record.speed_kbps) == (
        dropped_at + timedelta(seconds=303),
        back,
        64,
    )
    incident = await db.scalar(select(Incident))
    assert incident.restored_at == back
    assert incident.audio_fallback_at == dropped_at + timedelta(seconds=300)
    attempts = (await db.scalars(select(LegAttempt).where(LegAttempt.leg_id == board.id))).all()
    assert {a.cause for a in attempts if a.purpose == "redial" and a.connected_at is None} == {
        "network"
    }


async def test_the_contact_chain_steps_one_contact_at_a_time_until_the_site_is_back(
    db, conference, monkeypatch
):
    monkeypatch.setenv("BRIDGEDESK_CONTACT_CHAIN_STEP_SECONDS", "120")
    get_settings.cache_clear()
    _board, lab = await launched_and_connected(db, conference)
    # The Lab has no audio URI: past the window it is "failed", still redialed.
    dropped_at = T0 + timedelta(minutes=10)
    await end(db, lab, dropped_at, "no_media")
    await run(dropped_at)
    await end(db, lab, dropped_at, "failed", final_status=408, cause="network")
    window = dropped_at + timedelta(minutes=5)

    def told() -> list[list[str]]:
        return [m.recipients for m in messages]

    await run(window)
    messages = (await db.scalars(SITE_DOWN.order_by(OutboxMessage.id))).all()
    _board, lab = (await legs_of(db, conference.id))[:2]
    assert lab.state == LegState.FAILED
    # The Lab's own contact in the fixture, then 2 minutes later the scheduler.
    assert told() == [["tech@customer.example"]]
    await run(window + timedelta(seconds=119))
    messages = (await db.scalars(SITE_DOWN.order_by(OutboxMessage.id))).all()
    assert len(told()) == 1
    await run(window + timedelta(seconds=120))
    messages = (await db.scalars(SITE_DOWN.order_by(OutboxMessage.id))).all()
    assert told() == [["tech@customer.example"], ["sam@customer.example"]]
    # Back before the third step: the primary contact is never bothered.
    while lab.dial_id is None:
        await run(window + timedelta(seconds=130))
        _board, lab = await legs_of(db, conference.id)
    await connect(db, lab, window + timedelta(seconds=130))
    await run(window + timedelta(seconds=131))
    await run(window + timedelta(seconds=400))
    messages = (await db.scalars(SITE_DOWN.order_by(OutboxMessage.id))).all()
    assert len(told()) == 2
    kinds = (await db.scalars(select(IncidentEvent.kind).order_by(IncidentEvent.id))).all()
    assert "no_fallback" in kinds and kinds[-1] == "restored"


async def test_a_dial_the_engine_never_takes_becomes_a_late_call_with_its_audio_link(
    db, conference
):
    await run(T0, launch_due_conferences_job)
    board, lab = await legs_of(db, conference.id)
    await connect(db, lab, T0 + timedelta(seconds=3))
    await run(T0 + timedelta(minutes=4, seconds=59))
    assert (await db.scalars(select(Incident))).all() == []
    await run(T0 + timedelta(minutes=5))
    board, lab, audio = await legs_of(db, conference.id)
    incident = await db.scalar(select(Incident))
    assert (incident.kind, incident.cause, incident.began_at) == ("failed", "technical_support", T0)
    assert (board.state, audio.kind, audio.state) == ("audio_fallback", "audio", "dialing")
    assert len((await db.scalars(SITE_DOWN)).all()) == 4


def test_production_keeps_the_published_five_minute_window(monkeypatch):
    for name in ("RECOVERY_WINDOW_SECONDS", "ON_TIME_THRESHOLD_SECONDS"):
        monkeypatch.delenv(f"BRIDGEDESK_{name}", raising=False)
    defaults = Settings()
    assert defaults.recovery_window_seconds == 300
    assert defaults.on_time_threshold_seconds == 120
