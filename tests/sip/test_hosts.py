"""Two worker hosts (two `bridgedesk worker --sip-only`, one SIP process each) on one
PostgreSQL database share the queued probes: each probe runs once, on one of them, and
both take part."""

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from bridge.models import ProbeResult
from bridge.service.probes import request_probe
from tests.conftest import create_pg_database, drop_pg_database
from tests.sip.conftest import session_on, sip_engine, wait_for_probe
from tests.sip.sipp import sipp_uas

pytestmark = pytest.mark.postgres


@pytest.fixture
def shared_database() -> Iterator[str]:
    url = create_pg_database("bridgedesk_siphosts")
    try:
        yield url
    finally:
        drop_pg_database(url)


# A host claims only what it has free slots for: with 4 each, 16 probes cannot all land on
# the host that polls first, so both must take part (with hundreds of slots one could).
SMALL_HOST = {"BRIDGEDESK_SIP_CALLS_PER_PROCESS": "4"}


async def test_two_worker_hosts_share_one_database(shared_database):
    url = shared_database
    with (
        sipp_uas("answer", pause_ms=0) as peer,
        sip_engine(url, processes=1, env=SMALL_HOST) as first,
        sip_engine(url, processes=1, env=SMALL_HOST) as second,
    ):
        async with session_on(url) as session:
            ids = [
                (await request_probe(session, sip_uri=peer.uri(f"s{i}"), hold_seconds=0.3)).id
                for i in range(16)
            ]
        for probe_id in ids:
            view = await wait_for_probe(url, probe_id, within=20)
            assert view.result is not None and view.result.cause == "ok", view
            assert view.attempts == 1
        pids = {pid for engine in (first, second) for pid in engine.sip_pids()}
    async with session_on(url) as session:
        ran_on = (await session.execute(select(ProbeResult.probe_id, ProbeResult.engine))).all()
    assert sorted(probe_id for probe_id, _ in ran_on) == sorted(ids)  # one result each
    hosts = {int(owner.rsplit("/", 1)[1]) for _, owner in ran_on}
    assert hosts == pids and len(hosts) == 2, (hosts, pids)
