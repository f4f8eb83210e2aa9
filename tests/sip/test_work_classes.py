"""The engine's claims by class and by conference, on PostgreSQL without SIP: recovery is
served first and keeps a reserve of slots no other work may fill; certification tests go
before other probes; all calls of a conference go to the process that holds the first one
(its home) while that process beats, and to another once it stops."""

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bridge.engine.classes import WorkClass
from bridge.engine.work import WorkQueue, make_engine
from bridge.models import EngineHome, EngineProcess
from bridge.service.dials import request_dial
from bridge.service.probes import request_probe
from bridgedesk.clock import utcnow
from tests.conftest import create_pg_database, drop_pg_database
from tests.sip.conftest import session_on

pytestmark = pytest.mark.postgres


@pytest.fixture
def url() -> Iterator[str]:
    """A database of its own per test: each claims every queued row."""
    database = create_pg_database("bridgedesk_sipclass")
    try:
        yield database
    finally:
        drop_pg_database(database)


def _queue(url: str, owner: str) -> WorkQueue:
    queue = WorkQueue(make_engine(url), owner, lease_seconds=30, max_attempts=3)
    queue.register(max_calls=100, module="test", version="-", tls=False)
    return queue


async def _dials(url: str, purpose: str, count: int, conference_id: int | None = None) -> list[int]:
    async with session_on(url) as session:
        return [
            (await request_dial(session, sip_uri=f"sip:{purpose}{i}@10.9.0.1", purpose=purpose,
                                conference_id=conference_id)).id
            for i in range(count)
        ]  # fmt: skip


async def test_recovery_is_served_first_and_keeps_its_reserve(url):
    launches = await _dials(url, "launch", 10)
    redials = await _dials(url, "redial", 2)
    queue = _queue(url, "host/1")
    # 8 free slots, 3 kept for recovery: both redials, then only 3 launches.
    first = queue.claim(call_slots=8, options_slots=0, reserve=3)
    assert [item.id for item in first] == [*redials, *launches[:3]]
    assert [item.work_class for item in first] == [WorkClass.RECOVERY] * 2 + [WorkClass.LAUNCH] * 3
    # 3 free slots left, all reserved: launches wait, a new redial goes at once.
    assert queue.claim(call_slots=3, options_slots=0, reserve=3) == []
    [late] = await _dials(url, "audio_fallback", 1)
    assert [item.id for item in queue.claim(call_slots=3, options_slots=0, reserve=3)] == [late]
    queue.engine.dispose()


async def test_certification_tests_go_before_other_probes(url):
    async with session_on(url) as session:
        api = (await request_probe(session, sip_uri="sip:a@10.9.0.1", purpose="api")).id
        test = (await request_probe(session, sip_uri="sip:c@10.9.0.1", purpose="certification")).id
    queue = _queue(url, "host/1")
    [item] = queue.claim(call_slots=1, options_slots=0)
    assert (item.id, item.work_class) == (test, WorkClass.CERTIFICATION)
    [item] = queue.claim(call_slots=1, options_slots=0)
    assert (item.id, item.work_class) == (api, WorkClass.PROBE)
    queue.engine.dispose()


async def test_a_conference_stays_in_the_process_that_holds_it(url):
    a, b = _queue(url, "host/a"), _queue(url, "host/b")
    [first] = await _dials(url, "launch", 1, conference_id=7)
    assert [item.id for item in a.claim(call_slots=10, options_slots=0)] == [first]
    # The conference's next call waits for its home, however free the other process is.
    [second] = await _dials(url, "add_site", 1, conference_id=7)
    [elsewhere] = await _dials(url, "launch", 1, conference_id=8)
    assert [item.id for item in b.claim(call_slots=10, options_slots=0)] == [elsewhere]
    [item] = a.claim(call_slots=10, options_slots=0)
    assert (item.id, item.conference_id) == (second, 7)
    # Its home stops beating: the conference moves to the process that claims next.
    with a.engine.begin() as connection:
        connection.execute(
            update(EngineProcess)
            .where(EngineProcess.owner == "host/a")
            .values(heartbeat_at=utcnow() - timedelta(minutes=5))
        )
    [third] = await _dials(url, "redial", 1, conference_id=7)
    assert [item.id for item in b.claim(call_slots=10, options_slots=0)] == [third]
    with b.engine.connect() as connection:
        owner = connection.scalar(select(EngineHome.owner).where(EngineHome.conference_id == 7))
    assert owner == "host/b"
    # A process seen dead loses its homes at once.
    b.reap(dead_owner="host/b")
    with b.engine.connect() as connection:
        assert (
            connection.scalar(select(EngineHome.owner).where(EngineHome.owner == "host/b")) is None
        )
    a.engine.dispose()
    b.engine.dispose()
