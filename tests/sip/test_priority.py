"""Priority against real SIP: while 200 launch legs to unreachable sites are in flight (a UDP
socket that never answers), a connected site that hangs up (BYE) is redialed within 2 s and
connected again within 10 s. The engine runs 2 processes of 100 calls each, so the burst
fills every launch slot (84 a process; 16 are kept for recovery) and more wait: only the
reserve and the class order let the redial out before the burst's calls time out (60 s)."""

import socket
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy import func, select

from bridge.models import Dial
from tests.conftest import own_database
from tests.sip.conferences import book_now, hang_up, jobs_on, rows, run_jobs_until
from tests.sip.conftest import RunningEngine, sip_engine
from tests.sip.sipp import LOOPBACK, sipp_uas

pytestmark = pytest.mark.postgres

UNREACHABLE_LEGS = 200
CONFERENCES = 20
CALLS_PER_PROCESS = 100


@pytest.fixture(scope="module")
def busy_engine() -> Iterator[RunningEngine]:
    env = {
        "BRIDGEDESK_SIP_CALLS_PER_PROCESS": str(CALLS_PER_PROCESS),
        "BRIDGEDESK_SIP_ANSWER_TIMEOUT_SECONDS": "60",
        "BRIDGEDESK_SIP_DIALS_PER_SECOND": "100",
        "BRIDGEDESK_SIP_DIAL_BURST": "20",
        "BRIDGEDESK_SIP_LEASE_SECONDS": "10",
    }
    with own_database("bridgedesk_sipprio") as url, sip_engine(url, processes=2, env=env) as engine:
        yield engine


@pytest.fixture
async def jobs(busy_engine: RunningEngine, monkeypatch) -> AsyncIterator[str]:
    # The published 5-minute window: the unreachable launches are late, not yet incidents.
    window = {"BRIDGEDESK_RECOVERY_WINDOW_SECONDS": "300"}
    async with jobs_on(busy_engine.database_url, monkeypatch, window) as url:
        yield url


@pytest.fixture
def black_hole() -> Iterator[int]:
    """A UDP port that takes INVITEs and never answers (nor refuses)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
        sink.bind((LOOPBACK, 0))
        yield sink.getsockname()[1]


async def test_a_dropped_site_is_redialed_at_once_while_200_launches_hang(
    jobs, busy_engine, black_hole
):
    url = jobs
    with sipp_uas("answer_then_bye", pause_ms=12_000) as site:
        # The site answers, holds 12 s (the burst goes out meanwhile), hangs up; and again.
        watched = await book_now(url, [{"name": "Dropper", "sip_uri": site.uri("dropper")}])
        [first] = await run_jobs_until(
            url, watched, lambda ls: ls[0].state == "connected", within=15, what="connected"
        )
        bursts = []
        for c in range(CONFERENCES):
            per = UNREACHABLE_LEGS // CONFERENCES
            sites = [
                {"name": f"Dark {c}-{i}", "sip_uri": f"sip:dark{c}x{i}@{LOOPBACK}:{black_hole}"}
                for i in range(per)
            ]
            bursts.append(await book_now(url, sites))
        in_flight = f"%@{LOOPBACK}:{black_hole}"

        async def dark_dialing() -> int:
            return (await rows(url, select(func.count(Dial.id)).where(
                Dial.sip_uri.like(in_flight), Dial.status == "dialing")))[0]  # fmt: skip

        await run_jobs_until(url, watched, lambda ls: True, within=5, what="launch")
        deadline = time.monotonic() + 20
        flying = 0
        while time.monotonic() < deadline:
            flying = await dark_dialing()
            if flying >= 2 * (CALLS_PER_PROCESS - 16) - 10:
                break
            await run_jobs_until(url, watched, lambda ls: True, within=1, what="jobs")
        assert flying >= 2 * (CALLS_PER_PROCESS - 16) - 10, flying
        # The drop, and the redial: recovery goes first.
        await run_jobs_until(
            url, watched, lambda ls: ls[0].connected_at != first.connected_at,
            within=15, what="the site's BYE",
        )  # fmt: skip
        [back] = await run_jobs_until(
            url, watched, lambda ls: ls[0].state == "connected"
            and ls[0].connected_at not in (None, first.connected_at),
            within=10, what="connected again",
        )  # fmt: skip
        still_flying = await dark_dialing()
        dials = await rows(url, select(Dial).where(Dial.leg_id == back.id).order_by(Dial.id))
        await hang_up(url, watched, *bursts)
    bye, redial = dials[0], dials[1]
    assert bye.end_reason == "remote_bye" and bye.ended_at is not None
    assert redial.purpose == "redial" and redial.dialed_at is not None
    bye_to_invite = (redial.dialed_at - bye.ended_at).total_seconds()
    bye_to_connected = (back.connected_at - bye.ended_at).total_seconds()
    print(
        f"BYE -> redial INVITE {bye_to_invite:.3f} s, -> connected {bye_to_connected:.3f} s, "
        f"with {flying} (then {still_flying}) launches to a black hole in flight"
    )
    assert still_flying >= 150, still_flying  # the burst was still hanging throughout
    assert bye_to_invite < 2.0, bye_to_invite
    assert bye_to_connected < 10.0, bye_to_connected
    log = busy_engine.log.read_text(errors="replace")
    assert "ETOOMANY" not in log and "refused a call" not in log
