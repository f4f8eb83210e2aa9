"""The SIP worker processes' side of the database: claiming queued probes and dials (FOR
UPDATE SKIP LOCKED on PostgreSQL; SQLite's single-writer transaction does the same job),
leases renewed while a process works, what the engine measured written back, and the claims
of processes that died taken back (probes re-queued a bounded number of times, dials ended
as "engine_lost"). Blocking code: the worker process is not async, pjsua2 is not either."""

import logging
import os
import socket
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, create_engine, insert, pool, select, update
from sqlalchemy.orm import Session

from bridge.engine.events import CallConnected, CallDialing, CallEnded, EngineEvent, MediaSeen
from bridge.engine.options import OptionsOutcome
from bridge.models import Dial, Probe, ProbeResult
from bridge.service.dials import end_cause
from bridge.service.probes import Cause, cause_for_status
from bridgedesk.clock import utcnow
from bridgedesk.db import install_sqlite_write_lock, is_sqlite, sync_url

log = logging.getLogger("bridge.engine.work")

ENGINE_LOST = "engine process lost"
LIVE_DIAL_STATES = ("dialing", "connected")


@dataclass(frozen=True)
class WorkItem:
    kind: str  # "probe" | "dial"
    id: int
    sip_uri: str
    method: str  # "INVITE" | "OPTIONS"
    hold_seconds: float | None  # None: a dial, held until it ends
    answer_timeout_seconds: float | None

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.id}"


@dataclass(frozen=True)
class OptionsDone:
    key: str
    outcome: OptionsOutcome


def owner_name(pid: int | None = None) -> str:
    """How a process signs its claims: the supervisor derives it from the child's pid."""
    return f"{socket.gethostname()[:80]}/{pid or os.getpid()}"


def parse_key(key: str) -> tuple[str, int]:
    kind, _, number = key.partition(":")
    return kind, int(number)


def make_engine(url: str) -> Engine:
    if is_sqlite(url):
        engine = create_engine(sync_url(url), poolclass=pool.NullPool)
        install_sqlite_write_lock(engine)
        return engine
    return create_engine(
        sync_url(url), pool_size=2, pool_pre_ping=True, connect_args={"connect_timeout": 5}
    )


class WorkQueue:
    """One worker process's claims on the work tables, under the name `owner`."""

    def __init__(self, engine: Engine, owner: str, *, lease_seconds: float, max_attempts: int):
        self.engine = engine
        self.owner = owner
        self.lease = timedelta(seconds=lease_seconds)
        self.max_attempts = max_attempts

    def claim(self, *, call_slots: int, options_slots: int, dials: bool = True) -> list[WorkItem]:
        """Take up to `call_slots` dials and INVITE probes (dials first: a conference is
        waiting for them) and up to `options_slots` OPTIONS probes. A short-lived engine
        (`bridgedesk probe`) takes no dials: it could not hold them."""
        items: list[WorkItem] = []
        if call_slots <= 0 and options_slots <= 0:
            return items
        now = utcnow()
        with Session(self.engine) as session, session.begin():
            if call_slots > 0 and dials:
                queued_dials = session.scalars(
                    select(Dial)
                    .where(Dial.status == "queued")
                    .order_by(Dial.id)
                    .limit(call_slots)
                    .with_for_update(skip_locked=True)
                ).all()
                for dial in queued_dials:
                    dial.status = "dialing"
                    dial.claimed_by = self.owner
                    dial.lease_until = now + self.lease
                    dial.updated_at = now
                    items.append(
                        WorkItem(
                            "dial", dial.id, dial.sip_uri, "INVITE", None,
                            dial.answer_timeout_seconds,
                        )
                    )  # fmt: skip
            if call_slots > 0:
                items += self._claim_probes(session, "INVITE", call_slots - len(items), now)
            if options_slots > 0:
                items += self._claim_probes(session, "OPTIONS", options_slots, now)
        return items

    def _claim_probes(
        self, session: Session, method: str, limit: int, now: datetime
    ) -> list[WorkItem]:
        if limit <= 0:
            return []
        probes = session.scalars(
            select(Probe)
            .where(Probe.status == "queued", Probe.method == method)
            .order_by(Probe.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        for probe in probes:
            probe.status = "running"
            probe.claimed_by = self.owner
            probe.lease_until = now + self.lease
            probe.attempts += 1
        return [
            WorkItem("probe", p.id, p.sip_uri, p.method, p.hold_seconds, p.answer_timeout_seconds)
            for p in probes
        ]

    def renew(self, keys: Iterable[str]) -> set[str]:
        """Extend this process's leases on what it is working on; returns the keys it no
        longer holds (its lease ran out while it was cut off, and the work went elsewhere)."""
        keys = list(keys)
        probe_ids, dial_ids = _split(keys)
        until = utcnow() + self.lease
        with Session(self.engine) as session, session.begin():
            if probe_ids:
                session.execute(
                    update(Probe)
                    .where(
                        Probe.id.in_(probe_ids),
                        Probe.claimed_by == self.owner,
                        Probe.status == "running",
                    )
                    .values(lease_until=until)
                )
            if dial_ids:
                session.execute(
                    update(Dial)
                    .where(
                        Dial.id.in_(dial_ids),
                        Dial.claimed_by == self.owner,
                        Dial.status.in_(LIVE_DIAL_STATES),
                    )
                    .values(lease_until=until)
                )
            held = {
                f"probe:{i}"
                for i in session.scalars(
                    select(Probe.id).where(
                        Probe.id.in_(probe_ids),
                        Probe.claimed_by == self.owner,
                        Probe.status == "running",
                    )
                )
            } | {
                f"dial:{i}"
                for i in session.scalars(
                    select(Dial.id).where(
                        Dial.id.in_(dial_ids),
                        Dial.claimed_by == self.owner,
                        Dial.status.in_(LIVE_DIAL_STATES),
                    )
                )
            }
        return set(keys) - held

    def hangups_requested(self, dial_ids: Collection[int]) -> list[int]:
        if not dial_ids:
            return []
        with Session(self.engine) as session:
            return list(
                session.scalars(
                    select(Dial.id).where(
                        Dial.id.in_(list(dial_ids)),
                        Dial.claimed_by == self.owner,
                        Dial.hangup_requested_at.is_not(None),
                        Dial.status.in_(LIVE_DIAL_STATES),
                    )
                ).all()
            )

    def record(self, events: Iterable[EngineEvent | OptionsDone]) -> None:
        """Write what the engine reported, in one transaction. Writes are guarded by the
        claim: a process whose lease ran out (and whose work went elsewhere) changes nothing."""
        with Session(self.engine) as session, session.begin():
            for event in events:
                kind, number = parse_key(event.key)
                if isinstance(event, OptionsDone):
                    self._finish_probe(session, number, _options_result(event.outcome))
                elif kind == "probe":
                    if isinstance(event, CallEnded):
                        self._finish_probe_call(session, number, event)
                else:
                    self._record_dial(session, number, event)

    def _finish_probe_call(self, session: Session, probe_id: int, event: CallEnded) -> None:
        probe = session.get(Probe, probe_id)
        if probe is None:
            return
        self._finish_probe(session, probe_id, _call_result(event, probe.hold_seconds))

    def _finish_probe(self, session: Session, probe_id: int, values: dict[str, object]) -> None:
        done = session.execute(
            update(Probe)
            .where(Probe.id == probe_id, Probe.claimed_by == self.owner, Probe.status == "running")
            .values(status="done", lease_until=None)
            .execution_options(synchronize_session=False)
        )
        if done.rowcount == 1:  # type: ignore[attr-defined]
            session.execute(
                insert(ProbeResult).values(probe_id=probe_id, engine=self.owner, **values)
            )

    def _record_dial(self, session: Session, dial_id: int, event: EngineEvent) -> None:
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
                "last_media_at": event.last_media_at,
                "rtp_packets_received": event.rtp_packets,
            }
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
            .where(Dial.id == dial_id, Dial.claimed_by == self.owner, Dial.status != "ended")
            .values(**values)
            .execution_options(synchronize_session=False)
        )

    def reap(self, *, dead_owner: str | None = None) -> tuple[int, int]:
        """Take back the claims of processes that died: those whose lease ran out, or all of
        `dead_owner`'s at once (the supervisor saw it die). Returns (probes, dials) taken."""
        now = utcnow()
        with Session(self.engine) as session, session.begin():
            lost = Probe.claimed_by == dead_owner if dead_owner else Probe.lease_until < now
            probes = session.scalars(
                select(Probe)
                .where(Probe.status == "running", lost)
                .order_by(Probe.id)
                .with_for_update(skip_locked=True)
            ).all()
            for probe in probes:
                lost_by = probe.claimed_by
                probe.claimed_by = None
                probe.lease_until = None
                if probe.attempts >= self.max_attempts:
                    probe.status = "done"
                    session.add(
                        ProbeResult(
                            probe_id=probe.id,
                            final_status=None,
                            media_seconds=0.0,
                            rtp_packets_received=0,
                            cause=Cause.NETWORK.value,
                            detail=f"{ENGINE_LOST} ({probe.attempts} attempts)",
                            started_at=probe.queued_at,
                            finished_at=now,
                            engine=lost_by,
                        )
                    )
                else:
                    probe.status = "queued"
            lost_dial = Dial.claimed_by == dead_owner if dead_owner else Dial.lease_until < now
            dials = session.scalars(
                select(Dial)
                .where(Dial.status.in_(LIVE_DIAL_STATES), lost_dial)
                .order_by(Dial.id)
                .with_for_update(skip_locked=True)
            ).all()
            for dial in dials:
                dial.status = "ended"
                dial.ended_at = now
                dial.updated_at = now
                dial.end_reason = "engine_lost"
                dial.cause = end_cause("engine_lost", None)
                dial.detail = ENGINE_LOST
                dial.lease_until = None
        if probes or dials:
            log.warning(
                "took back %d probes and %d dials of lost processes", len(probes), len(dials)
            )
        return len(probes), len(dials)


def _split(keys: Iterable[str]) -> tuple[list[int], list[int]]:
    probes: list[int] = []
    dials: list[int] = []
    for key in keys:
        kind, number = parse_key(key)
        (probes if kind == "probe" else dials).append(number)
    return probes, dials


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


def _call_result(event: CallEnded, hold_seconds: float) -> dict[str, object]:
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


def _options_result(outcome: OptionsOutcome) -> dict[str, object]:
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
