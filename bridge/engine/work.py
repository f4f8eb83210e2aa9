"""The SIP worker processes' side of the database: claiming queued probes and dials (FOR
UPDATE SKIP LOCKED on PostgreSQL; SQLite's single-writer transaction does the same job),
leases renewed while a process works, what the engine measured written back, and the claims
of processes that died taken back (probes re-queued a bounded number of times, dials ended
as "engine_lost"). Blocking code: the worker process is not async, pjsua2 is not either.

A process claims only what it has free slots for, by class (bridge.engine.classes): recovery
may take every free slot, other work leaves `reserve` slots free for it. A conference's calls
live in one process (its home, in bridge_engine_homes), so they can be mixed; a process
takes a conference's dial only if the conference has no home, or its home is this process,
or its home's process stopped beating (bridge_engine_processes).

This module owns a process's registration, heartbeat, leases and the reaping of dead
processes' claims; the claiming itself is in bridge/engine/claims.py, the writing back of
results in bridge/engine/results.py."""

import logging
import os
import socket
from collections.abc import Collection, Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, create_engine, delete, exists, pool, select, update
from sqlalchemy.orm import Session

from bridge.engine.claims import (
    LAUNCH_BATCH,
    LIVE_DIAL_STATES,
    WorkItem,
    claim_dials,
    claim_probes,
)
from bridge.engine.events import CallEnded, EngineEvent
from bridge.engine.results import (
    OptionsDone,
    finish_probe,
    finish_probe_call,
    options_result,
    parse_key,
    record_dial,
)
from bridge.models import Dial, EngineHome, EngineProcess, Probe, ProbeResult
from bridge.service.dials import end_cause
from bridge.service.probes import Cause
from bridgedesk.clock import utcnow
from bridgedesk.db import install_sqlite_write_lock, is_sqlite, sync_url

log = logging.getLogger("bridge.engine.work")

ENGINE_LOST = "engine process lost"


def owner_name(pid: int | None = None) -> str:
    """How a process signs its claims: the supervisor derives it from the child's pid."""
    return f"{socket.gethostname()[:80]}/{pid or os.getpid()}"


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
        self._profile: dict[str, Any] = {}

    def register(self, *, max_calls: int, module: str, version: str, tls: bool) -> None:
        """Say this process is alive and what it can hold (for affinity and /healthz)."""
        self._profile = {"max_calls": max_calls, "module": module[:40], "version": version[:40],
                         "tls": tls}  # fmt: skip
        now = utcnow()
        with Session(self.engine) as session, session.begin():
            session.execute(delete(EngineProcess).where(EngineProcess.owner == self.owner))
            session.add(
                EngineProcess(
                    owner=self.owner,
                    started_at=now,
                    heartbeat_at=now,
                    max_calls=max_calls,
                    calls=0,
                    module=module[:40],
                    version=version[:40],
                    tls=tls,
                )
            )

    def beat(self, calls: int) -> None:
        """Still alive (its conferences stay homed here); registers again if it was reaped
        while cut off from the database."""
        now = utcnow()
        with Session(self.engine) as session, session.begin():
            beaten = session.execute(
                update(EngineProcess)
                .where(EngineProcess.owner == self.owner)
                .values(heartbeat_at=now, calls=calls)
            )
            if beaten.rowcount == 0 and self._profile:  # type: ignore[attr-defined]
                session.add(
                    EngineProcess(
                        owner=self.owner, started_at=now, heartbeat_at=now, calls=calls,
                        **self._profile,
                    )
                )  # fmt: skip

    def unregister(self) -> None:
        with Session(self.engine) as session, session.begin():
            session.execute(delete(EngineHome).where(EngineHome.owner == self.owner))
            session.execute(delete(EngineProcess).where(EngineProcess.owner == self.owner))

    def claim(
        self,
        *,
        call_slots: int,
        options_slots: int,
        reserve: int = 0,
        dials: bool = True,
    ) -> list[WorkItem]:
        """Take up to `call_slots` dials and INVITE probes, by class: recovery dials may
        take every slot, launches then certification tests then probes leave `reserve`
        slots free for recovery; and up to `options_slots` OPTIONS probes. A short-lived
        engine (`bridgedesk probe`) takes no dials: it could not hold them."""
        items: list[WorkItem] = []
        if call_slots <= 0 and options_slots <= 0:
            return items
        now = utcnow()
        with Session(self.engine) as session, session.begin():
            if call_slots > 0 and dials:
                items += claim_dials(
                    session, self.owner, self.lease, call_slots, now, recovery=True
                )
                # Launches come in batches: a process that took them all at once would make
                # every new conference its own while the others stand idle.
                others = min(call_slots - len(items) - reserve, LAUNCH_BATCH)
                if others > 0:
                    items += claim_dials(
                        session, self.owner, self.lease, others, now, recovery=False
                    )
            others = call_slots - len(items) - reserve
            if others > 0:
                items += claim_probes(session, self.owner, self.lease, "INVITE", others, now)
            if options_slots > 0:
                items += claim_probes(
                    session, self.owner, self.lease, "OPTIONS", options_slots, now
                )
        return items

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
        # In key order (a stable sort keeps each call's own events in order), so two writers
        # locking the same rows lock them in the same order.
        ordered = sorted(events, key=lambda event: parse_key(event.key))
        with Session(self.engine) as session, session.begin():
            for event in ordered:
                kind, number = parse_key(event.key)
                if isinstance(event, OptionsDone):
                    finish_probe(session, self.owner, number, options_result(event.outcome))
                elif kind == "probe":
                    if isinstance(event, CallEnded):
                        finish_probe_call(session, self.owner, number, event)
                else:
                    record_dial(session, self.owner, number, event)

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
            self._forget_homes(session, dead_owner, now)
        if probes or dials:
            log.warning(
                "took back %d probes and %d dials of lost processes", len(probes), len(dials)
            )
        return len(probes), len(dials)

    def _forget_homes(self, session: Session, dead_owner: str | None, now: datetime) -> None:
        """A dead process's conferences have no home (the next claim gives them one); nor
        do conferences with no call left in any process."""
        if dead_owner is not None:
            session.execute(delete(EngineHome).where(EngineHome.owner == dead_owner))
            session.execute(delete(EngineProcess).where(EngineProcess.owner == dead_owner))
            return
        stale = now - self.lease * 4
        gone = select(EngineProcess.owner).where(EngineProcess.heartbeat_at < stale)
        session.execute(delete(EngineHome).where(EngineHome.owner.in_(gone)))
        session.execute(delete(EngineProcess).where(EngineProcess.heartbeat_at < stale))
        live_call = exists().where(
            Dial.conference_id == EngineHome.conference_id,
            Dial.status.in_(("queued", *LIVE_DIAL_STATES)),
        )
        session.execute(
            delete(EngineHome)
            .where(EngineHome.since < now - self.lease, ~live_call)
            .execution_options(synchronize_session=False)
        )


def _split(keys: Iterable[str]) -> tuple[list[int], list[int]]:
    probes: list[int] = []
    dials: list[int] = []
    for key in keys:
        kind, number = parse_key(key)
        (probes if kind == "probe" else dials).append(number)
    return probes, dials
