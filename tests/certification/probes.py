"""Finishing a queued probe as the SIP engine would, for tests that are not about SIP itself
(tests/sip/test_certification_calls.py runs the real engine against sipp)."""

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bridge.models import Probe, ProbeResult
from bridgedesk.clock import utcnow


async def finish_probe(
    db: AsyncSession,
    probe_id: int,
    *,
    final_status: int | None = 200,
    cause: str = "ok",
    codec: str | None = "PCMU/8000",
    media_seconds: float = 3.0,
    detail: str = "200 OK",
) -> None:
    probe = await db.get(Probe, probe_id)
    assert probe is not None
    now = utcnow()
    probe.status = "done"
    db.add(
        ProbeResult(
            probe_id=probe_id,
            final_status=final_status,
            provisional_ms=12.0 if final_status else None,
            answer_ms=40.0 if final_status == 200 else None,
            codec=codec if final_status == 200 else None,
            media_seconds=media_seconds if final_status == 200 else 0.0,
            rtp_packets_received=int(media_seconds * 50) if final_status == 200 else 0,
            call_id="test-call",
            cause=cause,
            detail=detail,
            started_at=now - timedelta(seconds=4),
            finished_at=now,
        )
    )
    await db.flush()


async def busy(db: AsyncSession, probe_id: int) -> None:
    await finish_probe(
        db, probe_id, final_status=486, cause="client_not_synchronized", detail="486 Busy Here"
    )
