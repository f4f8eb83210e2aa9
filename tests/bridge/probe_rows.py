"""Probe rows as the SIP engine writes them, for tests that need a finished probe without
running SIP (access table, API tests)."""

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bridge.models import Probe, ProbeResult
from bridgedesk.clock import utcnow


async def finished_probe(
    session: AsyncSession,
    *,
    final_status: int | None = 486,
    cause: str = "client_not_synchronized",
    detail: str = "486 Busy Here",
    method: str = "INVITE",
) -> int:
    now = utcnow()
    probe = Probe(
        sip_uri="sip:room@127.0.0.1:5999",
        method=method,
        hold_seconds=0.0,
        purpose="api",
        status="done",
        queued_at=now - timedelta(seconds=2),
        claimed_by=None,
        attempts=1,
    )
    session.add(probe)
    await session.flush()
    session.add(
        ProbeResult(
            probe_id=probe.id,
            final_status=final_status,
            provisional_ms=1.5,
            answer_ms=None,
            codec=None,
            media_seconds=0.0,
            rtp_packets_received=0,
            call_id="abc@127.0.0.1",
            cause=cause,
            detail=detail,
            started_at=now - timedelta(seconds=1),
            finished_at=now,
            engine="test/1",
        )
    )
    await session.flush()
    return probe.id
