"""What a SIP worker process's engine reported, written back (bridge/engine/work.py's
WorkQueue.record): a probe's result with its cause, a dial's progress (dialing, connected,
media quality) and its end with the cause from `dials.end_cause`. Writes are guarded by the
claim: a process whose lease ran out (and whose work went elsewhere) changes nothing."""

from dataclasses import dataclass

from sqlalchemy import insert, update
from sqlalchemy.orm import Session

from bridge.engine.events import CallConnected, CallDialing, CallEnded, EngineEvent, MediaSeen
from bridge.engine.options import OptionsOutcome
from bridge.models import Dial, Probe, ProbeResult
from bridge.service.dials import end_cause
from bridge.service.probes import Cause, cause_for_status
from bridgedesk.clock import utcnow


@dataclass(frozen=True)
class OptionsDone:
    key: str
    outcome: OptionsOutcome


def parse_key(key: str) -> tuple[str, int]:
    kind, _, number = key.partition(":")
    return kind, int(number)


def finish_probe_call(session: Session, owner: str, probe_id: int, event: CallEnded) -> None:
    probe = session.get(Probe, probe_id)
    if probe is None:
        return
    finish_probe(session, owner, probe_id, call_result(event, probe.hold_seconds))


def finish_probe(session: Session, owner: str, probe_id: int, values: dict[str, object]) -> None:
    done = session.execute(
        update(Probe)
        .where(Probe.id == probe_id, Probe.claimed_by == owner, Probe.status == "running")
        .values(status="done", lease_until=None)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount == 1:  # type: ignore[attr-defined]
        session.execute(insert(ProbeResult).values(probe_id=probe_id, engine=owner, **values))


def record_dial(session: Session, owner: str, dial_id: int, event: EngineEvent) -> None:
    now = utcnow()
    values: dict[str, object] = {"updated_at": now}
    if isinstance(event, CallDialing):
        values |= {"dialed_at": event.at, "call_id": event.call_id}
    elif isinstance(event, CallConnected):
        values |= {
            "status": "connected",
            "connected_at": event.at,
            "final_status": event.final_status,
            "provisional_ms": event.provisional_ms,
            "answer_ms": event.answer_ms,
            "codec": event.codec,
            "call_id": event.call_id,
        }
    elif isinstance(event, MediaSeen):
        values |= {
            "rtp_packets_received": event.rtp_packets,
            "tx_packets": event.tx_packets,
            "loss_pct": event.loss_pct,
            "jitter_ms": event.jitter_ms,
            "rx_level": event.rx_level,
        }
        if event.last_media_at is not None:
            values["last_media_at"] = event.last_media_at
    else:
        values |= {
            "status": "ended",
            "ended_at": event.ended_at,
            "end_reason": "failed" if event.end_reason == "completed" else event.end_reason,
            "cause": dial_cause(event),
            "detail": event.detail,
            "final_status": event.final_status,
            "provisional_ms": event.provisional_ms,
            "answer_ms": event.answer_ms,
            "codec": event.codec,
            "call_id": event.call_id,
            "rtp_packets_received": event.rtp_packets,
            "lease_until": None,
        }
        if event.last_media_at is not None:
            values["last_media_at"] = event.last_media_at
    session.execute(
        update(Dial)
        .where(Dial.id == dial_id, Dial.claimed_by == owner, Dial.status != "ended")
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def probe_cause(event: CallEnded, hold_seconds: float) -> tuple[Cause, str]:
    if event.connected:
        if hold_seconds > 0 and event.rtp_packets == 0:
            return Cause.NETWORK, f"answered, but no RTP received in {hold_seconds:g} s"
        return Cause.OK, event.detail
    if event.final_status is None:
        return Cause.NETWORK, event.detail
    return cause_for_status(event.final_status), event.detail


def dial_cause(event: CallEnded) -> str | None:
    """A dial's cause when it failed or dropped (`dials.end_cause`, the one rule)."""
    return end_cause(event.end_reason, event.final_status)


def call_result(event: CallEnded, hold_seconds: float) -> dict[str, object]:
    cause, detail = probe_cause(event, hold_seconds)
    return {
        "final_status": event.final_status,
        "provisional_ms": event.provisional_ms,
        "answer_ms": event.answer_ms,
        "codec": event.codec,
        "media_seconds": event.media_seconds,
        "rtp_packets_received": event.rtp_packets,
        "call_id": event.call_id,
        "cause": cause.value,
        "detail": detail[:300],
        "started_at": event.started_at,
        "finished_at": event.ended_at,
    }


def options_result(outcome: OptionsOutcome) -> dict[str, object]:
    return {
        "final_status": outcome.final_status,
        "provisional_ms": outcome.provisional_ms,
        "answer_ms": outcome.round_trip_ms,
        "codec": None,
        "media_seconds": 0.0,
        "rtp_packets_received": 0,
        "call_id": outcome.call_id or None,
        "cause": cause_for_status(outcome.final_status).value,
        "detail": outcome.detail[:300],
        "started_at": outcome.started_at,
        "finished_at": outcome.finished_at,
    }
