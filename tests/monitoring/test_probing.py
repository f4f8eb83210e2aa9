"""The uptime prober: hysteresis (two failures open an outage, one success closes it),
no sample when the SIP engine does not answer (unmonitored, not down), idempotent rounds,
a real HTTP health check, and the real bridge probe queue."""

import asyncio
import threading
from collections.abc import Collection, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import time_machine
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bridge.models import Probe, ProbeResult
from bridgedesk.db import create_engine_for
from bridgedesk.settings import get_settings
from monitoring.jobs import probe_uptime_job
from monitoring.models import MonitoredSpan, Outage, PendingProbe, ProbeTarget
from monitoring.service import probing
from monitoring.service.intervals import Interval
from monitoring.service.probing import ProbeOutcome, probe_round
from monitoring.service.uptime import monthly_report
from tests.conftest import create_pg_database, drop_pg_database

T0 = datetime(2027, 6, 1, 10, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


class ScriptedProbes:
    """The bridge probe queue's interface, answering from a script: True/False per minute,
    None for a probe the SIP engine never took (engine down)."""

    def __init__(self) -> None:
        self.script: dict[int, bool | None] = {}
        self.next_answer: bool | None = True
        self._ids = 0

    async def request(self, session: AsyncSession, sip_uri: str) -> int | None:
        self._ids += 1
        self.script[self._ids] = self.next_answer
        return self._ids

    async def collect(
        self, session: AsyncSession, probe_ids: Collection[int]
    ) -> dict[int, ProbeOutcome]:
        out = {}
        for probe_id in probe_ids:
            answer = self.script.get(probe_id)
            out[probe_id] = (
                ProbeOutcome(False, False, "queued")
                if answer is None
                else ProbeOutcome(True, answer, "200 OK" if answer else "408 Request Timeout")
            )
        return out


async def _run(db, probes: ScriptedProbes, answers: list[bool | None], start: datetime) -> None:
    """One round per minute; the answer for minute k is collected at minute k+1."""
    for k, answer in enumerate([*answers, True]):
        probes.next_answer = answer
        await probe_round(db, start + k * MINUTE, client=probes, health=None)


async def _outages(db, component: str = "bridge") -> list[tuple[datetime, datetime | None]]:
    rows = await db.execute(
        select(Outage.started_at, Outage.ended_at)
        .where(Outage.component == component)
        .order_by(Outage.started_at)
    )
    return [tuple(r) for r in rows]


async def test_two_failures_open_an_outage_and_one_success_closes_it(db, make_bridge):
    await make_bridge(sip_uri="sip:bridge1@127.0.0.1")
    probes = ScriptedProbes()
    # minute:    0     1      2     3      4      5      6     7
    answers = [True, False, True, False, False, False, True, True]
    await _run(db, probes, answers, T0)
    # The lone failure at minute 1 opened nothing; 3-5 failed: down from 3 until 6.
    assert await _outages(db) == [(T0 + 3 * MINUTE, T0 + 6 * MINUTE)]
    spans = (await db.execute(select(MonitoredSpan.started_at, MonitoredSpan.ended_at))).all()
    assert [tuple(s) for s in spans] == [(T0, T0 + 8 * MINUTE)]  # one row, extended


async def test_an_unanswered_probe_is_unmonitored_time_not_downtime(db, make_bridge):
    await make_bridge(sip_uri="sip:bridge1@127.0.0.1")
    probes = ScriptedProbes()
    # Minutes 2-5: the SIP engine is down and takes no probe at all.
    answers = [True, True, None, None, None, None, True, False, True]
    await _run(db, probes, answers, T0)
    assert await _outages(db) == []
    spans = (
        await db.execute(
            select(MonitoredSpan.started_at, MonitoredSpan.ended_at).order_by(
                MonitoredSpan.started_at
            )
        )
    ).all()
    assert [Interval(*s) for s in spans] == [
        Interval(T0, T0 + 2 * MINUTE),
        Interval(T0 + 6 * MINUTE, T0 + 9 * MINUTE),
    ]
    with time_machine.travel(T0 + 9 * MINUTE, tick=False):
        report = await monthly_report(db, "bridge", "2027-06")
    assert float(report.downtime_minutes) == 0
    # Unmonitored up to now: the month before the prober started (1 June 00:00-10:00) and
    # the engine's silence, 10:02-10:06.
    assert float(report.unmonitored_minutes) == 10 * 60 + 4


async def test_a_failure_after_a_prober_gap_does_not_continue_the_run(db, make_bridge):
    await make_bridge(sip_uri="sip:bridge1@127.0.0.1")
    probes = ScriptedProbes()
    await _run(db, probes, [False], T0)
    await _run(db, probes, [False, True], T0 + 30 * MINUTE)  # prober away 28 minutes
    assert await _outages(db) == []


async def test_a_second_round_in_the_same_minute_does_nothing(db, make_bridge):
    await make_bridge(sip_uri="sip:bridge1@127.0.0.1")
    probes = ScriptedProbes()
    await probe_round(db, T0, client=probes, health=("http://h/healthz", False, "down"))
    assert (
        await probe_round(
            db,
            T0 + timedelta(seconds=30),
            client=probes,
            health=("http://h/healthz", False, "down"),
        )
        == 0
    )
    await probe_round(db, T0 + MINUTE, client=probes, health=("http://h/healthz", True, "ok"))
    assert len(probes.script) == 2  # one OPTIONS probe per bridge per minute
    assert await _outages(db, "reservations") == []  # one failure sample, not two


class _Health(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(type(self).status)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def health_server(monkeypatch) -> Iterator[type[_Health]]:
    handler = type("Health", (_Health,), {"status": 200})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("BRIDGEDESK_HEALTH_URL", f"http://127.0.0.1:{server.server_port}/healthz")
    get_settings.cache_clear()
    yield handler
    server.shutdown()
    get_settings.cache_clear()


async def test_the_job_checks_the_real_health_url(db, health_server, monkeypatch):
    monkeypatch.setattr(probing, "BridgeProbeClient", ScriptedProbes)
    with time_machine.travel(T0, tick=False) as clock:
        assert await probe_uptime_job() == 1
        health_server.status = 503
        for _ in range(3):
            clock.shift(MINUTE)
            await probe_uptime_job()
        health_server.status = 200
        clock.shift(MINUTE)
        await probe_uptime_job()
    assert await _outages(db, "reservations") == [(T0 + MINUTE, T0 + 4 * MINUTE)]


async def test_an_unreachable_health_url_is_a_failure():
    ok, detail = await probing.http_health("http://127.0.0.1:9/healthz", 1.0)
    assert not ok and detail


async def test_through_the_bridge_probe_queue(db, make_bridge):
    """Round 1 queues a real OPTIONS probe; the engine's answer (written as the engine
    writes it) is collected by round 2; an unfinished one waits, then is given up."""
    await make_bridge(sip_uri="sip:bridge-a@127.0.0.1:5070")
    client = probing.BridgeProbeClient()
    await probe_round(db, T0, client=client, health=None)
    probe = await db.scalar(select(Probe).where(Probe.purpose == "uptime"))
    assert probe is not None and probe.method == "OPTIONS"
    assert probe.sip_uri == "sip:bridge-a@127.0.0.1:5070"
    probe.status = "done"
    db.add(
        ProbeResult(
            probe_id=probe.id,
            final_status=408,
            provisional_ms=None,
            answer_ms=None,
            codec=None,
            media_seconds=0.0,
            rtp_packets_received=0,
            call_id=None,
            cause="network",
            detail="408 Request Timeout",
            started_at=T0,
            finished_at=T0 + timedelta(seconds=2),
            engine="test/1",
        )
    )
    await db.flush()
    await probe_round(db, T0 + MINUTE, client=client, health=None)  # collects 408, queues
    # Minute 1's probe is never answered (engine down): after the patience, given up.
    for k in (2, 3, 4):
        await probe_round(db, T0 + k * MINUTE, client=client, health=None)
    spans = (await db.execute(select(MonitoredSpan.started_at, MonitoredSpan.ended_at))).all()
    assert [tuple(s) for s in spans] == [(T0, T0 + MINUTE)]
    state = (await probing.current_states(db))[0]
    assert state.last_ok is False and state.consecutive_failures == 1
    assert "408" in (state.last_detail or "")


@pytest.mark.postgres
async def test_two_workers_in_the_same_minute_run_one_round():
    """Two schedulers racing on PostgreSQL: the minute's row lets one round through."""
    url = create_pg_database("bridgedesk_probe_race")
    engine = create_engine_for(url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    try:
        probes = ScriptedProbes()

        async def round_in_own_transaction() -> int:
            async with sessions() as session, session.begin():
                result = await probe_round(
                    session, T0, client=probes, health=("http://h/healthz", False, "503")
                )
                await asyncio.sleep(0.2)  # hold the transaction while the other one tries
                return result

        results = await asyncio.gather(round_in_own_transaction(), round_in_own_transaction())
        assert sorted(results) == [0, 1]
        async with sessions() as session:
            assert await session.scalar(select(func.count(ProbeTarget.id))) == 1
            state = await session.scalar(select(ProbeTarget))
            assert state is not None and state.consecutive_failures == 1
    finally:
        await engine.dispose()
        drop_pg_database(url)


async def test_a_minute_waits_for_every_bridges_answer(db, make_bridge):
    await make_bridge(sip_uri="sip:bridge1@127.0.0.1")
    await make_bridge(sip_uri="sip:bridge2@127.0.0.1")
    probes = ScriptedProbes()
    await probe_round(db, T0, client=probes, health=None)  # queues probes 1 and 2
    probes.script.update({1: True, 2: None})  # bridge 2's answer is late
    probes.next_answer = None
    await probe_round(db, T0 + MINUTE, client=probes, health=None)
    assert (await db.execute(select(MonitoredSpan.id))).first() is None
    assert await db.scalar(select(func.count(PendingProbe.id))) == 4
    probes.script[2] = True
    await probe_round(db, T0 + 2 * MINUTE, client=probes, health=None)
    spans = (await db.execute(select(MonitoredSpan.started_at, MonitoredSpan.ended_at))).all()
    assert [tuple(s) for s in spans] == [(T0, T0 + MINUTE)]
