"""Affinity and process death against real SIP: all legs of a conference live in one engine
process (so they can be mixed); SIGKILL that process in the middle of a live 10-site
conference and within 15 s every leg is connected again, all on the surviving process (or
its restarted sibling: one process again), and each incident names `technical_support`."""

import os
import signal
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy import select

from bridge.models import Dial, Incident
from tests.conftest import own_database
from tests.sip.conferences import book_now, hang_up, jobs_on, rows, run_jobs_until
from tests.sip.conftest import RunningEngine, sip_engine
from tests.sip.sipp import sipp_uas

pytestmark = pytest.mark.postgres

SITES = 10


@pytest.fixture(scope="module")
def two_processes() -> Iterator[RunningEngine]:
    with own_database("bridgedesk_sipaff") as url, sip_engine(url, processes=2) as engine:
        yield engine


@pytest.fixture
async def jobs(two_processes: RunningEngine, monkeypatch) -> AsyncIterator[str]:
    window = {"BRIDGEDESK_RECOVERY_WINDOW_SECONDS": "300"}
    async with jobs_on(two_processes.database_url, monkeypatch, window) as url:
        yield url


def _pid(owner: str | None) -> int:
    assert owner is not None
    return int(owner.rsplit("/", 1)[1])


async def test_a_killed_process_conference_comes_back_whole_on_another(jobs, two_processes):
    url = jobs
    with sipp_uas("answer", pause_ms=0) as peer:
        conference_id = await book_now(
            url, [{"name": f"Room {i}", "sip_uri": peer.uri(f"room{i}")} for i in range(SITES)]
        )
        before = await run_jobs_until(
            url, conference_id,
            lambda ls: len(ls) == SITES and all(leg.state == "connected" for leg in ls),
            within=20, what="all legs connected",
        )  # fmt: skip
        first_dials = await rows(url, select(Dial).where(Dial.conference_id == conference_id))
        homes = {_pid(d.claimed_by) for d in first_dials}
        assert len(homes) == 1, homes  # affinity: one process holds the whole conference
        [victim] = homes
        assert victim in two_processes.sip_pids()
        os.kill(victim, signal.SIGKILL)
        killed = time.monotonic()
        connected_before = {leg.id: leg.connected_at for leg in before}
        after = await run_jobs_until(
            url, conference_id,
            lambda ls: all(
                leg.state == "connected" and leg.connected_at != connected_before[leg.id]
                for leg in ls
            ),
            within=15, what="every leg connected again",
        )  # fmt: skip
        back_in = time.monotonic() - killed
        dials = await rows(
            url, select(Dial).where(Dial.conference_id == conference_id, Dial.status == "connected")
        )
        incidents = await rows(url, select(Incident).where(Incident.conference_id == conference_id))
        await hang_up(url, conference_id)
    print(f"killed pid {victim}; all {SITES} legs connected again in {back_in:.2f} s")
    assert back_in < 15
    assert {leg.id for leg in after} == set(connected_before)
    new_homes = {_pid(d.claimed_by) for d in dials}
    assert len(dials) == SITES and len(new_homes) == 1 and victim not in new_homes, new_homes
    assert len(incidents) == SITES
    assert {i.cause for i in incidents} == {"technical_support"}
    assert all(i.restored_at is not None for i in incidents)
    assert "ETOOMANY" not in two_processes.log.read_text(errors="replace")
