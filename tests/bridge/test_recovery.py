"""Launch, drops and recovery, driven by dial rows moved by hand (the engine's part) and
jobs run at chosen instants: redial at once then with backoff, the audio link and the
contact chain at the window, video restored, call records, on-time launches, the end."""

import itertools
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from bridge.jobs import launch_due_conferences_job, supervise_legs_job
from bridge.models import CallRecord, Dial, Incident, IncidentEvent, Launch, Leg, LegAttempt
from bridge.service.leg_states import LegState
from bridgedesk.auth import actor_of
from bridgedesk.identity import Role
from bridgedesk.models import OutboxMessage, User
from bridgedesk.settings import Settings, get_settings
from reservations.jobs import extend_overruns_job
from reservations.models import Conference, Customer, Site
from reservations.service import live
from reservations.service.booking import SiteRequest
from tests.bridge.calls import connect, end, legs_of

T0 = datetime(2031, 3, 4, 15, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
SITE_DOWN = select(OutboxMessage).where(OutboxMessage.topic == "site_down")


@pytest.fixture(autouse=True)
def recovery_settings(monkeypatch):
    monkeypatch.setenv("BRIDGEDESK_RECOVERY_WINDOW_SECONDS", "300")
    monkeypatch.setenv("BRIDGEDESK_REDIAL_BACKOFF_INITIAL_SECONDS", "10")
    monkeypatch.setenv("BRIDGEDESK_REDIAL_BACKOFF_CAP_SECONDS", "60")
    monkeypatch.setenv("BRIDGEDESK_CONTACT_CHAIN_STEP_SECONDS", "0")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def run(at: datetime, job=supervise_legs_job) -> int:
    with time_machine.travel(at, tick=False):
        return await job()


async def launched_and_connected(db, conference) -> list[Leg]:
    """Launched at T0, every site connected 3 s later and the supervisor run once: its legs."""
    await run(T0, launch_due_conferences_job)
    legs = await legs_of(db, conference.id)
    for leg in legs:
        await connect(db, leg, T0 + timedelta(seconds=3))
    await run(T0 + timedelta(seconds=4))
    return legs


@pytest.fixture
async def conference(db, make_customer, make_site, make_user, make_conference):
    """Booked at T0 - 1 day for T0..T0+1h, two sites, the scheduler and primary contact known."""
    customer = await make_customer(
        primary_contact={"name": "Pat Primary", "email": "primary@customer.example"}
    )
    first = await make_site(
        customer=customer,
        name="Boardroom",
        sip_uri="sip:board@127.0.0.1",
        audio_uri="sip:board-audio@127.0.0.1",
        contacts=[
            {"name": "Tess Tech", "email": "tess@customer.example"},
            {"name": "Nick Night", "email": "nick@customer.example", "phone": "+1 555"},
        ],
    )
    second = await make_site(customer=customer, name="Lab", sip_uri="sip:lab@127.0.0.1")
    scheduler = await make_user(
        Role.SCHEDULER, customer_id=customer.id, email="sam@customer.example", name="Sam"
    )
    with time_machine.travel(T0 - timedelta(days=1), tick=False):
        booked = await make_conference(
            sites=[first, second], start=T0, end=T0 + timedelta(hours=1), by=actor_of(scheduler)
        )
    return booked


async def test_launch_dials_every_site_once_at_the_start_and_records_an_on_time_launch(
    db, conference
):
    assert await run(T0 - timedelta(seconds=1), launch_due_conferences_job) == 0
    assert await run(T0 + timedelta(seconds=1), launch_due_conferences_job) == 1
    assert await run(T0 + timedelta(seconds=5), launch_due_conferences_job) == 0
    board, lab = await legs_of(db, conference.id)
    assert [(leg.state, leg.kind, leg.sip_uri) for leg in (board, lab)] == [
        ("dialing", "video", "sip:board@127.0.0.1"),
        ("dialing", "video", "sip:lab@127.0.0.1"),
    ]
    dials = (await db.scalars(select(Dial).order_by(Dial.id))).all()
    assert [(d.sip_uri, d.purpose, d.leg_id) for d in dials] == [
        ("sip:board@127.0.0.1", "launch", board.id),
        ("sip:lab@127.0.0.1", "launch", lab.id),
    ]
    await db.refresh(conference)
    assert conference.status == "live"

    await connect(db, board, T0 + timedelta(seconds=20))
    await run(T0 + timedelta(seconds=21))
    launch = await db.scalar(select(Launch).where(Launch.conference_id == conference.id))
    assert launch.on_time is None  # one site still ringing, 2 minutes not over
    await connect(db, lab, T0 + timedelta(seconds=100))
    await run(T0 + timedelta(seconds=101))
    await db.refresh(launch)
    assert launch.on_time is True
    assert launch.all_connected_at == T0 + timedelta(seconds=100)
    assert [leg.state for leg in await legs_of(db, conference.id)] == ["connected", "connected"]
    # Nothing new from the engine: nothing changes.
    assert await run(T0 + timedelta(seconds=102)) == 0


async def test_a_launch_with_a_site_connected_after_two_minutes_is_late(db, conference):
    await run(T0, launch_due_conferences_job)
    board, lab = await legs_of(db, conference.id)
    await connect(db, board, T0 + timedelta(seconds=5))
    await run(T0 + timedelta(seconds=121))
    launch = await db.scalar(select(Launch).where(Launch.conference_id == conference.id))
    await db.refresh(launch)
    assert launch.on_time is False
    await connect(db, lab, T0 + timedelta(seconds=130))
    await run(T0 + timedelta(seconds=131))
    await db.refresh(launch)
    assert (launch.on_time, launch.all_connected_at) == (False, T0 + timedelta(seconds=130))


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


async def test_a_connected_conference_is_not_cut_at_its_end_and_ends_when_the_last_site_leaves(
    db, conference
):
    board, lab = await launched_and_connected(db, conference)
    end_at = T0 + timedelta(hours=1)
    # Reservations' overrun job gives the live conference 15 more minutes near its end.
    await run(end_at - timedelta(minutes=4), extend_overruns_job)
    await run(end_at + timedelta(minutes=5))
    assert [leg.state for leg in await legs_of(db, conference.id)] == ["connected", "connected"]
    await db.refresh(conference)
    assert conference.status == "live"

    await end(db, board, end_at + timedelta(minutes=6), "remote_bye")
    await run(end_at + timedelta(minutes=6, seconds=1))
    board, lab = await legs_of(db, conference.id)
    assert (board.state, lab.state) == (LegState.ENDED, LegState.CONNECTED)
    assert (await db.scalars(select(Incident))).all() == []
    await end(db, lab, end_at + timedelta(minutes=8), "remote_bye")
    await run(end_at + timedelta(minutes=8, seconds=1))
    await db.refresh(conference)
    assert conference.status == "ended"
    assert conference.ends_at == end_at + timedelta(minutes=8)
    assert len((await db.scalars(select(CallRecord))).all()) == 2


async def test_a_launch_that_no_site_answers_is_retried_and_counted_as_failed_calls(db, conference):
    await run(T0, launch_due_conferences_job)
    board, _lab = await legs_of(db, conference.id)
    await end(
        db,
        board,
        T0 + timedelta(seconds=30),
        "failed",
        final_status=486,
        cause=("client_not_synchronized"),
    )
    await run(T0 + timedelta(seconds=31))
    board, _ = await legs_of(db, conference.id)
    assert board.state == LegState.DROPPED
    assert board.next_dial_at == T0 + timedelta(seconds=41)
    incident = await db.scalar(select(Incident))
    assert (incident.kind, incident.cause) == ("failed", "client_not_synchronized")
    await run(T0 + timedelta(seconds=41))
    board, _ = await legs_of(db, conference.id)
    assert board.state == LegState.RECONNECTING
    assert (await db.get(Dial, board.dial_id)).purpose == "redial"
    await db.refresh(conference)
    assert (await db.get(Conference, conference.id)).status == "live"


async def test_a_site_still_in_an_overrunning_meeting_is_dialed_into_the_next_once_it_leaves(
    db, conference, make_conference
):
    board_site = await db.get(Site, conference.sites[0].site_id)
    end_at = T0 + timedelta(hours=1)
    with time_machine.travel(T0 - timedelta(days=1), tick=False):
        following = await make_conference(sites=[board_site], start=end_at, end=end_at + HOUR)
    await launched_and_connected(db, conference)
    await run(end_at - timedelta(minutes=4), extend_overruns_job)

    await run(end_at + timedelta(seconds=1), launch_due_conferences_job)
    [waiting] = await legs_of(db, following.id)
    assert (waiting.state, waiting.dial_id) == ("dialing", None)
    await run(end_at + timedelta(seconds=30))
    [waiting] = await legs_of(db, following.id)
    assert waiting.dial_id is None  # the Boardroom is still in the first meeting

    board, _lab = await legs_of(db, conference.id)
    await end(db, board, end_at + timedelta(minutes=2), "remote_bye")
    await run(end_at + timedelta(minutes=2, seconds=1))
    await run(end_at + timedelta(minutes=2, seconds=12))
    [dialed] = await legs_of(db, following.id)
    assert dialed.dial_id is not None
    assert (await db.get(Dial, dialed.dial_id)).purpose == "launch"


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


async def test_a_site_added_to_a_running_conference_is_dialed(db, conference, make_site):
    await run(T0, launch_due_conferences_job)
    for leg in await legs_of(db, conference.id):
        await connect(db, leg, T0 + timedelta(seconds=3))
    extra = await make_site(
        customer=await db.get(Customer, conference.customer_id),
        name="Annex",
        sip_uri="sip:annex@127.0.0.1",
    )
    operator = await make_actor_at(db, T0 + timedelta(minutes=5))
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        await live.add_site(db, conference.id, SiteRequest(extra.id), by=operator)
    await run(T0 + timedelta(minutes=5, seconds=1))
    annex = (await legs_of(db, conference.id))[-1]
    assert (annex.site_id, annex.origin, annex.state) == (extra.id, "add_site", "dialing")
    assert (await db.get(Dial, annex.dial_id)).purpose == "add_site"
    await run(T0 + timedelta(minutes=5, seconds=2))
    assert len(await legs_of(db, conference.id)) == 3  # dialed once


async def make_actor_at(db, moment):
    user = User(
        email=f"op-{moment.timestamp()}@example.com",
        name="Op",
        password_hash="-",
        role=Role.OPERATOR,
        active=True,
        created_at=moment,
    )
    db.add(user)
    await db.flush()
    return actor_of(user)


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
