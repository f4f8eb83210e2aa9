"""The engine's claims on PostgreSQL without SIP: concurrent processes never take the same
row (FOR UPDATE SKIP LOCKED), and the work of a process that died is re-queued a bounded
number of times and then finished cleanly, never lost; its dials end as engine_lost."""

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import update

from bridge.engine.events import CallEnded
from bridge.engine.work import ENGINE_LOST, WorkQueue, make_engine
from bridge.models import Dial, Probe
from bridge.service.dials import get_dials, request_dial
from bridge.service.probes import get_probe, request_probe
from bridgedesk.clock import utcnow
from tests.conftest import create_pg_database, drop_pg_database
from tests.sip.conftest import session_on

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def queue_database() -> Iterator[str]:
    """A database of its own: these tests claim every queued row, no engine may compete."""
    url = create_pg_database("bridgedesk_sipqueue")
    try:
        yield url
    finally:
        drop_pg_database(url)


def _queue(url: str, owner: str, *, max_attempts: int = 3) -> WorkQueue:
    return WorkQueue(make_engine(url), owner, lease_seconds=30, max_attempts=max_attempts)


async def _probes(url: str, count: int, method: str = "INVITE") -> list[int]:
    async with session_on(url) as session:
        return [
            (await request_probe(session, sip_uri=f"sip:s{i}@10.9.0.1", method=method)).id  # type: ignore[arg-type]
            for i in range(count)
        ]


async def test_concurrent_claims_never_share_a_row(queue_database):
    url = queue_database
    ids = set(await _probes(url, 60))
    async with session_on(url) as session:
        dial_ids = {
            (await request_dial(session, sip_uri=f"sip:d{i}@10.9.0.1", purpose="t")).id
            for i in range(20)
        }
    queues = [_queue(url, f"host/{n}") for n in range(6)]
    taken: dict[str, list[tuple[str, int]]] = {q.owner: [] for q in queues}
    start = threading.Barrier(len(queues))

    def work(queue: WorkQueue) -> None:
        start.wait(10)
        while True:
            items = queue.claim(call_slots=3, options_slots=0)
            if not items:
                return
            taken[queue.owner] += [(item.kind, item.id) for item in items]

    threads = [threading.Thread(target=work, args=(q,)) for q in queues]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    everything = [item for items in taken.values() for item in items]
    assert len(everything) == len(set(everything)), "a row was claimed twice"
    assert {i for kind, i in everything if kind == "probe"} >= ids
    assert {i for kind, i in everything if kind == "dial"} >= dial_ids
    assert sum(1 for items in taken.values() if items) >= 2  # they really competed
    for queue in queues:
        queue.reap(dead_owner=queue.owner)  # hand everything back for the next tests
        queue.engine.dispose()


async def test_work_of_a_dead_process_is_requeued_then_failed_cleanly(queue_database):
    url = queue_database
    async with session_on(url) as session:
        await session.execute(update(Probe).values(status="done"))  # earlier tests' rows
        await session.execute(update(Dial).values(status="ended"))
    [probe_id] = await _probes(url, 1)
    async with session_on(url) as session:
        dial_id = (await request_dial(session, sip_uri="sip:x@10.9.0.1", purpose="t")).id
    survivor = _queue(url, "host/survivor", max_attempts=2)
    for attempt in (1, 2):
        dead = _queue(url, f"host/dead{attempt}", max_attempts=2)
        claimed = dead.claim(call_slots=4, options_slots=0)
        assert {(i.kind, i.id) for i in claimed} >= {("probe", probe_id)}
        # The process dies: its lease runs out (no renewal) and a live process reaps it.
        async with session_on(url) as session:
            await session.execute(
                update(Probe)
                .where(Probe.id == probe_id)
                .values(lease_until=utcnow() - timedelta(seconds=1))
            )
            await session.execute(
                update(Dial)
                .where(Dial.claimed_by == dead.owner)
                .values(lease_until=utcnow() - timedelta(seconds=1))
            )
        assert dead.renew([f"probe:{probe_id}"]) == set()  # still its own until reaped
        async with session_on(url) as session:
            await session.execute(
                update(Probe)
                .where(Probe.id == probe_id)
                .values(lease_until=utcnow() - timedelta(seconds=1))
            )
        survivor.reap()
        # Cut off past its lease, the process learns the work is no longer its own.
        assert dead.renew([f"probe:{probe_id}"]) == {f"probe:{probe_id}"}
        dead.engine.dispose()
        async with session_on(url) as session:
            view = await get_probe(session, probe_id)
        if attempt == 1:
            assert (view.status, view.attempts, view.result) == ("queued", 1, None)
    assert view.status == "done" and view.attempts == 2
    assert view.result is not None
    assert (view.result.cause, view.result.final_status) == ("network", None)
    assert ENGINE_LOST in view.result.detail
    async with session_on(url) as session:
        dial = (await get_dials(session, [dial_id]))[dial_id]
    ended = (dial.status, dial.end_reason, dial.cause)
    assert ended == ("ended", "engine_lost", "technical_support")
    # A late report from a process that lost its claim changes nothing.
    late = _queue(url, "host/dead2")
    now = utcnow()
    late.record(
        [
            CallEnded(
                key=f"probe:{probe_id}", started_at=now, ended_at=now, connected=True,
                final_status=200, provisional_ms=1.0, answer_ms=2.0, codec="PCMU/8000",
                call_id="late", media_seconds=0.0, rtp_packets=0, last_media_at=None,
                end_reason="completed", detail="answered",
            ),
            CallEnded(
                key=f"dial:{dial_id}", started_at=now, ended_at=now, connected=True,
                final_status=200, provisional_ms=1.0, answer_ms=2.0, codec="PCMU/8000",
                call_id="late", media_seconds=0.0, rtp_packets=0, last_media_at=None,
                end_reason="remote_bye", detail="late",
            ),
        ]
    )  # fmt: skip
    late.engine.dispose()
    async with session_on(url) as session:
        assert (await get_probe(session, probe_id)).result == view.result
        assert (await get_dials(session, [dial_id]))[dial_id] == dial
    assert survivor.reap() == (0, 0)
    survivor.engine.dispose()
