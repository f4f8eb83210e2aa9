"""The uptime prober against real SIP: OPTIONS pings through the bridge's running engine
(pjsua2 worker processes) to a live sipp bridge and to a bridge that is gone. The live one
stays up; two failures in a row open an outage on the dead one at its first failed minute."""

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import delete, select

from bridgedesk.clock import utcnow
from monitoring.models import MonitoredSpan, Outage, PendingProbe, ProbeTarget
from monitoring.service import probing
from reservations.models import Bridge
from reservations.service import registry
from tests.sip.conftest import engine, session_on, sip_database, wait_for_probe  # noqa: F401
from tests.sip.sipp import sipp_uas

pytestmark = [pytest.mark.postgres]
MINUTE = timedelta(minutes=1)


async def _round(url: str, at) -> list[int]:
    """One probe round in its own committed unit of work; the probes it queued."""
    async with session_on(url) as session:
        await probing.probe_round(session, at, client=probing.BridgeProbeClient(), health=None)
        rows = await session.scalars(select(PendingProbe.probe_id).where(PendingProbe.minute == at))
        return list(rows)


async def test_options_pings_through_the_engine_open_an_outage_on_the_dead_bridge(engine):  # noqa: F811
    url = engine.database_url
    tag = uuid.uuid4().hex[:6]
    with sipp_uas("options") as gone:
        dead_uri = gone.uri("bridge")  # a port that is closed once this block ends
    names = [f"live-{tag}", f"dead-{tag}"]
    # Minutes in the past, so that no other test's rounds share them.
    m0 = (utcnow() - timedelta(days=400)).replace(second=0, microsecond=0)
    try:
        with sipp_uas("options", max_seconds=120) as peer:
            live_uri = peer.uri("bridge")
            async with session_on(url) as session:
                for name, uri in zip(names, (live_uri, dead_uri), strict=True):
                    await registry.create_bridge(
                        session, registry.BridgeData(name, uri, 24, 4), by=None
                    )
            for k in range(3):
                queued = await _round(url, m0 + k * MINUTE)
                for probe_id in queued:
                    await wait_for_probe(url, probe_id, within=20)
    finally:
        # The engine's database is shared with the other SIP tests: take the bridges out
        # again, so that their capacity figures are not ours.
        async with session_on(url) as session:
            await session.execute(delete(Bridge).where(Bridge.name.in_(names)))
    async with session_on(url) as session:
        states = {
            s.target: s
            for s in await session.scalars(
                select(ProbeTarget).where(ProbeTarget.target.in_([live_uri, dead_uri]))
            )
        }
        outages = (
            await session.execute(
                select(Outage.target, Outage.started_at, Outage.ended_at).where(
                    Outage.target.in_([live_uri, dead_uri])
                )
            )
        ).all()
        spans = (
            await session.execute(
                select(MonitoredSpan.started_at, MonitoredSpan.ended_at).where(
                    MonitoredSpan.component == "bridge",
                    MonitoredSpan.started_at >= m0,
                    MonitoredSpan.ended_at <= m0 + 3 * MINUTE,
                )
            )
        ).all()
    assert states[live_uri].last_ok is True and states[live_uri].consecutive_failures == 0
    assert states[dead_uri].last_ok is False and states[dead_uri].consecutive_failures == 2
    assert [tuple(o) for o in outages] == [(dead_uri, m0, None)]
    # Minutes 0 and 1 had every bridge's answer: both monitored.
    assert [tuple(s) for s in spans] == [(m0, m0 + 2 * MINUTE)]
