"""A conference's legs over the API (states, timeline, recovery deadline, tenancy) and the
operators' live page and its polled panel."""

from datetime import UTC, datetime, timedelta

import httpx
import pytest
import time_machine

from bridge.jobs import launch_due_conferences_job, supervise_legs_job
from bridge.service import legs
from bridgedesk.auth import actor_of
from bridgedesk.identity import Role
from bridgedesk.settings import get_settings
from tests.bridge.calls import connect, dial_of, end, legs_of
from tests.conftest import PASSWORD, page_login

T0 = datetime(2031, 5, 6, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def short_window(monkeypatch):
    monkeypatch.setenv("BRIDGEDESK_RECOVERY_WINDOW_SECONDS", "300")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def at(moment: datetime, job=supervise_legs_job) -> int:
    with time_machine.travel(moment, tick=False):
        return await job()


@pytest.fixture
async def dropped(db, make_customer, make_site, make_user, make_conference):
    """A conference at T0 whose Boardroom dropped at T0+10 min and is being redialed."""
    customer = await make_customer()
    board = await make_site(customer=customer, name="Boardroom", audio_uri="sip:a@127.0.0.1")
    lab = await make_site(customer=customer, name="Lab")
    scheduler = await make_user(Role.SCHEDULER, customer_id=customer.id)
    with time_machine.travel(T0 - timedelta(days=2), tick=False):
        conference = await make_conference(
            sites=[board, lab], start=T0, end=T0 + timedelta(hours=1), by=actor_of(scheduler)
        )
    await at(T0, launch_due_conferences_job)
    first, second = await legs_of(db, conference.id)
    await connect(db, first, T0 + timedelta(seconds=2))
    await connect(db, second, T0 + timedelta(seconds=2))
    await at(T0 + timedelta(seconds=3))
    await end(db, first, T0 + timedelta(minutes=10), "no_media")
    await at(T0 + timedelta(minutes=10, seconds=1))
    return conference, customer, scheduler


async def test_legs_show_state_timeline_and_recovery_deadline(db, dropped, client_as):
    conference, _customer, scheduler = dropped
    with time_machine.travel(T0 + timedelta(minutes=10, seconds=2), tick=False):
        client = await client_as(scheduler)
        answer = await client.get(f"/api/v1/conferences/{conference.id}/legs")
        stranger = await client_as(Role.SCHEDULER)
        refused = await stranger.get(f"/api/v1/conferences/{conference.id}/legs")
        unknown = await client.get("/api/v1/conferences/2147483647/legs")
        huge = await client.get("/api/v1/conferences/2147483648/legs")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["conference_number"], body["status"]) == (conference.number, "live")
    assert body["launch"]["on_time"] is True
    board, lab = body["legs"]
    assert (board["site_name"], board["state"], lab["state"]) == (
        "Boardroom",
        "reconnecting",
        "connected",
    )
    deadline = datetime.fromisoformat(board["recovery_deadline"])
    assert deadline == T0 + timedelta(minutes=15)
    assert [e["kind"] for e in board["incident"]["timeline"]] == ["dropped", "redial"]
    assert board["incident"]["cause"] == "network"
    assert lab["recovery_deadline"] is None and lab["incident"] is None

    assert (refused.status_code, unknown.status_code, huge.status_code) == (404, 404, 422)


async def sign_in(app, user) -> httpx.AsyncClient:
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    answer = await page_login(client, {"email": user.email, "password": PASSWORD})
    assert answer.status_code == 303, answer.text
    return client


async def test_the_live_page_shows_running_legs_with_their_countdown(db, app, dropped, make_user):
    conference, _, scheduler = dropped
    with time_machine.travel(T0 + timedelta(minutes=11), tick=False):
        operator = await sign_in(app, await make_user(Role.OPERATOR))
        page = await operator.get("/live")
        panel = await operator.get("/live/panel")
        customer_user = await sign_in(app, scheduler)
        refused = await customer_user.get("/live/panel")
    assert page.status_code == 200
    assert 'id="live-panel"' in page.text and "fetch(" in page.text
    assert conference.number in panel.text
    assert "reconnecting" in panel.text and "Boardroom" in panel.text
    # Five minutes from the drop at 09:10: four minutes left at 09:11.
    assert ">4:00<" in panel.text
    assert "<html" not in panel.text

    assert refused.status_code == 403
    anonymous = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    )
    assert (await anonymous.get("/live")).status_code == 303
    for client in (operator, customer_user, anonymous):
        await client.aclose()


async def test_the_interface_other_packages_read(db, dropped):
    """Network faults (certification), attempts, launches and incidents (monitoring)."""
    conference, _customer, _scheduler = dropped
    board, lab = await legs_of(db, conference.id)
    failed_at = T0 + timedelta(minutes=10, seconds=20)
    await end(db, board, failed_at, "failed", final_status=408, cause="network")
    await at(failed_at + timedelta(seconds=1))
    await at(failed_at + timedelta(seconds=11))
    board, lab = await legs_of(db, conference.id)
    await end(db, board, failed_at + timedelta(seconds=15), "failed", final_status=486,
              cause="client_not_synchronized")  # fmt: skip
    await at(failed_at + timedelta(seconds=16))

    faults = await legs.network_faults_since(db, T0)
    assert [(f.leg_id, f.kind, f.at, f.cause) for f in faults] == [
        (board.id, "dropped", T0 + timedelta(minutes=10), "network"),
        (board.id, "failed", failed_at, "network"),
    ]
    assert await legs.network_faults_since(db, failed_at + timedelta(seconds=1)) == []

    attempts = await legs.call_attempts(db, start=T0, end=T0 + timedelta(hours=1))
    assert [(a.site_id, a.purpose, a.cause, a.final_status) for a in attempts] == [
        (board.site_id, "launch", "ok", 200),
        (lab.site_id, "launch", "ok", 200),
        (board.site_id, "redial", "network", 408),
        (board.site_id, "redial", "client_not_synchronized", 486),
    ]
    [launch] = await legs.launches(db, start=T0, end=T0 + timedelta(minutes=1))
    assert (launch.conference_id, launch.on_time) == (conference.id, True)
    [incident] = await legs.incidents(
        db, start=T0, end=T0 + timedelta(hours=1), conference_ids=[conference.id]
    )
    assert (incident.leg_id, incident.cause, incident.restored_at) == (board.id, "network", None)
    assert await legs.incidents(db, start=T0, end=T0 + timedelta(hours=1), conference_ids=[]) == []


async def test_media_quality_is_shown_and_heavy_loss_is_a_network_fault(db, dropped, client_as):
    """The engine's stream statistics on the leg (API and live page); loss past the
    threshold, once the call has sent enough, counts as a network fault (recertification)."""
    conference, _customer, scheduler = dropped
    _board, lab = await legs_of(db, conference.id)
    dial = await dial_of(db, lab)
    measured = T0 + timedelta(minutes=12)
    dial.rtp_packets_received, dial.tx_packets = 437, 500
    dial.loss_pct, dial.jitter_ms, dial.rx_level = 12.5, 3.25, 41
    await db.flush()
    await at(measured)
    with time_machine.travel(measured + timedelta(seconds=1), tick=False):
        client = await client_as(scheduler)
        answer = await client.get(f"/api/v1/conferences/{conference.id}/legs")
    assert answer.status_code == 200, answer.text
    board_out, lab_out = answer.json()["legs"]
    assert lab_out["media"] == {
        "rx_packets": 437, "tx_packets": 500, "loss_pct": 12.5, "jitter_ms": 3.25, "rx_level": 41,
    }  # fmt: skip
    assert board_out["media"] is None
    faults = await legs.network_faults_since(db, measured)
    assert [(f.leg_id, f.kind, f.at, f.cause) for f in faults] == [
        (lab.id, "lossy", measured, "network")
    ]
    # Judged once: later reports change the figures, not the fault.
    dial.loss_pct = 30.0
    await db.flush()
    await at(measured + timedelta(seconds=5))
    assert len(await legs.network_faults_since(db, measured)) == 1


async def test_light_loss_and_short_calls_are_not_faults(db, dropped):
    conference, _customer, _scheduler = dropped
    _board, lab = await legs_of(db, conference.id)
    dial = await dial_of(db, lab)
    dial.tx_packets, dial.loss_pct, dial.rx_level = 5000, 4.9, 0  # under the 5 % threshold
    await db.flush()
    await at(T0 + timedelta(minutes=12))
    dial.tx_packets, dial.loss_pct = 60, 50.0  # heavy, but too few packets to judge
    await db.flush()
    await at(T0 + timedelta(minutes=12, seconds=5))
    assert await legs.network_faults_since(db, T0 + timedelta(minutes=11)) == []


async def test_redials_of_one_target_are_rate_limited(db, dropped):
    """A site that answers and hangs up at once is not called in a tight loop: past
    BRIDGEDESK_SIP_REDIALS_PER_TARGET_PER_MINUTE dials of its URI in a minute, the next
    redial waits until the oldest is a minute old; a launch is never held back."""
    from bridge.models import Dial
    from bridge.service import leg_states

    conference, _customer, _scheduler = dropped
    _board, lab = await legs_of(db, conference.id)
    now = T0 + timedelta(minutes=20)
    limit = get_settings().sip_redials_per_target_per_minute
    oldest = now - timedelta(seconds=50)
    for i in range(limit):
        db.add(Dial(sip_uri=lab.sip_uri, purpose="redial", status="ended",
                    requested_at=oldest + timedelta(seconds=i), updated_at=now))  # fmt: skip
    await db.flush()
    lab.dial_id = None
    assert await leg_states.dial_leg(db, lab, "redial", now=now) is False
    assert lab.dial_id is None and lab.next_dial_at == oldest + timedelta(minutes=1)
    assert await leg_states.dial_leg(db, lab, "launch", now=now) is True
    assert lab.dial_id is not None
