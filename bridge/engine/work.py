"""The SIP worker processes' side of the database: claiming queued probes and dials (FOR
UPDATE SKIP LOCKED on PostgreSQL; SQLite's single-writer transaction does the same job),
leases renewed while a process works, what the engine measured written back, and the claims
of processes that died taken back (probes re-queued a bounded number of times, dials ended
as "engine_lost"). Blocking code: the worker process is not async, pjsua2 is not either.

A process claims only what it has free slots for, by class (bridge.engine.classes): recovery
may take every free slot, other work leaves `reserve` slots free for it. A conference's calls
live in one process (its home, in bridge_engine_homes), so they can be mixed; a process
takes a conference's dial only if the conference has no home, or its home is this process,
or its home's process stopped beating (bridge_engine_processes)."""

import logging
import os
import socket
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Engine,
    case,
    create_engine,
    delete,
    exists,
    func,
    insert,
    or_,
    pool,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bridge.engine.classes import CERTIFICATION_PURPOSE, WorkClass
from bridge.engine.events import CallConnected, CallDialing, CallEnded, EngineEvent, MediaSeen
from bridge.engine.options import OptionsOutcome
from bridge.models import Dial, EngineHome, EngineProcess, Probe, ProbeResult
from bridge.service.dials import end_cause
from bridge.service.probes import Cause, cause_for_status
from bridgedesk.clock import utcnow
from bridgedesk.db import install_sqlite_write_lock, is_sqlite, sync_url

log = logging.getLogger("bridge.engine.work")

ENGINE_LOST = "engine process lost"
# Launch-class dials one claim takes at most (recovery takes every free slot).
LAUNCH_BATCH = 40
LIVE_DIAL_STATES = ("dialing", "connected")


@dataclass(frozen=True)
class WorkItem:
    kind: str  # "probe" | "dial"
    id: int
    sip_uri: str
    method: str  # "INVITE" | "OPTIONS"
    hold_seconds: float | None  # None: a dial, held until it ends
    answer_timeout_seconds: float | None
    work_class: int = WorkClass.PROBE
    conference_id: int | None = None  # calls of one conference are mixed together

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
                items += self._claim_dials(session, call_slots, now, recovery=True)
                # Launches come in batches: a process that took them all at once would make
                # every new conference its own while the others stand idle.
                others = min(call_slots - len(items) - reserve, LAUNCH_BATCH)
                if others > 0:
                    items += self._claim_dials(session, others, now, recovery=False)
            others = call_slots - len(items) - reserve
            if others > 0:
                items += self._claim_probes(session, "INVITE", others, now)
            if options_slots > 0:
                items += self._claim_probes(session, "OPTIONS", options_slots, now)
        return items

    def _claim_dials(
        self, session: Session, limit: int, now: datetime, *, recovery: bool
    ) -> list[WorkItem]:
        in_class = (
            Dial.work_class == WorkClass.RECOVERY
            if recovery
            else Dial.work_class != WorkClass.RECOVERY
        )
        alive_since = now - self.lease
        # Dials this process may hold: no conference, a conference homed here or nowhere,
        # or one whose home process stopped beating.
        candidates = session.scalars(
            select(Dial)
            .outerjoin(EngineHome, EngineHome.conference_id == Dial.conference_id)
            .outerjoin(EngineProcess, EngineProcess.owner == EngineHome.owner)
            .where(
                Dial.status == "queued",
                in_class,
                or_(
                    Dial.conference_id.is_(None),
                    EngineHome.owner.is_(None),
                    EngineHome.owner == self.owner,
                    EngineProcess.owner.is_(None),
                    EngineProcess.heartbeat_at < alive_since,
                ),
            )
            .order_by(Dial.work_class, Dial.id)
            .limit(limit)
            .with_for_update(of=Dial, skip_locked=True)
        ).all()
        homed = self._take_homes(
            session, {d.conference_id for d in candidates if d.conference_id is not None}, now
        )
        items: list[WorkItem] = []
        for dial in candidates:
            if dial.conference_id is not None and dial.conference_id not in homed:
                continue  # another process made the conference its own meanwhile
            dial.status = "dialing"
            dial.claimed_by = self.owner
            dial.lease_until = now + self.lease
            dial.updated_at = now
            items.append(
                WorkItem(
                    "dial", dial.id, dial.sip_uri, "INVITE", None, dial.answer_timeout_seconds,
                    dial.work_class, dial.conference_id,
                )
            )  # fmt: skip
        return items

    def _busier_than_a_peer(self, session: Session, alive_since: datetime) -> bool:
        """Whether another live process holds clearly fewer calls of its conferences: new
        conferences then go to it, so the processes fill evenly and none runs out of slots
        for a conference it already holds (its calls can live nowhere else)."""
        live = select(EngineProcess.owner).where(EngineProcess.heartbeat_at >= alive_since)
        owners = set(session.scalars(live))
        if len(owners) < 2 or self.owner not in owners:
            return False
        load = dict.fromkeys(owners, 0)
        for owner, calls in session.execute(
            select(EngineHome.owner, func.count(Dial.id))
            .join(Dial, Dial.conference_id == EngineHome.conference_id)
            .where(Dial.status.in_(("queued", *LIVE_DIAL_STATES)), EngineHome.owner.in_(owners))
            .group_by(EngineHome.owner)
        ):
            load[owner] = calls
        mine = load.pop(self.owner)
        return mine > min(load.values()) + LAUNCH_BATCH

    def _take_homes(self, session: Session, conference_ids: set[int], now: datetime) -> set[int]:
        """Make this process the home of each conference that has none (or a dead one);
        returns the ones homed here. Two processes racing for one conference meet in its
        primary key: the loser leaves that conference's dials queued."""
        homed: set[int] = set()
        alive_since = now - self.lease
        busier = self._busier_than_a_peer(session, alive_since)
        for conference_id in sorted(conference_ids):
            try:
                with session.begin_nested():
                    home = session.get(
                        EngineHome, conference_id, with_for_update=True, populate_existing=True
                    )
                    if home is None and busier:
                        continue  # a less loaded process will make it its own
                    if home is None:
                        session.add(EngineHome(conference_id=conference_id, owner=self.owner,
                                               since=now))  # fmt: skip
                        session.flush()
                    elif home.owner != self.owner:
                        beat = session.scalar(
                            select(EngineProcess.heartbeat_at).where(
                                EngineProcess.owner == home.owner
                            )
                        )
                        if beat is not None and beat >= alive_since:
                            continue
                        home.owner, home.since = self.owner, now
                        session.flush()
            except IntegrityError:
                continue
            homed.add(conference_id)
        return homed

    def _claim_probes(
        self, session: Session, method: str, limit: int, now: datetime
    ) -> list[WorkItem]:
        if limit <= 0:
            return []
        certification_first = case((Probe.purpose == CERTIFICATION_PURPOSE, 0), else_=1)
        probes = session.scalars(
            select(Probe)
            .where(Probe.status == "queued", Probe.method == method)
            .order_by(certification_first, Probe.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        for probe in probes:
            probe.status = "running"
            probe.claimed_by = self.owner
            probe.lease_until = now + self.lease
            probe.attempts += 1
        return [
            WorkItem(
                "probe", p.id, p.sip_uri, p.method, p.hold_seconds, p.answer_timeout_seconds,
                WorkClass.CERTIFICATION if p.purpose == CERTIFICATION_PURPOSE else WorkClass.PROBE,
            )
            for p in probes
        ]  # fmt: skip

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
