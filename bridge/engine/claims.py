"""Claiming work for one SIP worker process (bridge/engine/work.py's WorkQueue): queued dials
and probes taken with FOR UPDATE SKIP LOCKED (SQLite's single-writer transaction does the same
job), by class (bridge.engine.classes), and conference affinity: a conference's calls live in
one process, its home in bridge_engine_homes, so they can be mixed. A process takes a
conference's dial only if the conference has no home, or its home is this process, or its
home's process stopped beating (bridge_engine_processes); new conferences go to the less
loaded processes."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bridge.engine.classes import CERTIFICATION_PURPOSE, WorkClass, probe_class
from bridge.models import Dial, EngineHome, EngineProcess, Probe

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


def claim_dials(
    session: Session, owner: str, lease: timedelta, limit: int, now: datetime, *, recovery: bool
) -> list[WorkItem]:
    in_class = (
        Dial.work_class == WorkClass.RECOVERY if recovery else Dial.work_class != WorkClass.RECOVERY
    )
    alive_since = now - lease
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
                EngineHome.owner == owner,
                EngineProcess.owner.is_(None),
                EngineProcess.heartbeat_at < alive_since,
            ),
        )
        .order_by(Dial.work_class, Dial.id)
        .limit(limit)
        .with_for_update(of=Dial, skip_locked=True)
    ).all()
    homed = take_homes(
        session,
        owner,
        lease,
        {d.conference_id for d in candidates if d.conference_id is not None},
        now,
    )
    items: list[WorkItem] = []
    for dial in candidates:
        if dial.conference_id is not None and dial.conference_id not in homed:
            continue  # another process made the conference its own meanwhile
        dial.status = "dialing"
        dial.claimed_by = owner
        dial.lease_until = now + lease
        dial.updated_at = now
        items.append(
            WorkItem(
                "dial", dial.id, dial.sip_uri, "INVITE", None, dial.answer_timeout_seconds,
                dial.work_class, dial.conference_id,
            )
        )  # fmt: skip
    return items


def busier_than_a_peer(session: Session, owner: str, alive_since: datetime) -> bool:
    """Whether another live process holds clearly fewer calls of its conferences: new
    conferences then go to it, so the processes fill evenly and none runs out of slots
    for a conference it already holds (its calls can live nowhere else)."""
    live = select(EngineProcess.owner).where(EngineProcess.heartbeat_at >= alive_since)
    owners = set(session.scalars(live))
    if len(owners) < 2 or owner not in owners:
        return False
    load = dict.fromkeys(owners, 0)
    for owner, calls in session.execute(
        select(EngineHome.owner, func.count(Dial.id))
        .join(Dial, Dial.conference_id == EngineHome.conference_id)
        .where(Dial.status.in_(("queued", *LIVE_DIAL_STATES)), EngineHome.owner.in_(owners))
        .group_by(EngineHome.owner)
    ):
        load[owner] = calls
    mine = load.pop(owner)
    return mine > min(load.values()) + LAUNCH_BATCH


def take_homes(
    session: Session, owner: str, lease: timedelta, conference_ids: set[int], now: datetime
) -> set[int]:
    """Make this process the home of each conference that has none (or a dead one);
    returns the ones homed here. Two processes racing for one conference meet in its
    primary key: the loser leaves that conference's dials queued."""
    homed: set[int] = set()
    alive_since = now - lease
    busier = busier_than_a_peer(session, owner, alive_since)
    for conference_id in sorted(conference_ids):
        try:
            with session.begin_nested():
                home = session.get(
                    EngineHome, conference_id, with_for_update=True, populate_existing=True
                )
                if home is None and busier:
                    continue  # a less loaded process will make it its own
                if home is None:
                    session.add(EngineHome(conference_id=conference_id, owner=owner,
                                           since=now))  # fmt: skip
                    session.flush()
                elif home.owner != owner:
                    beat = session.scalar(
                        select(EngineProcess.heartbeat_at).where(EngineProcess.owner == home.owner)
                    )
                    if beat is not None and beat >= alive_since:
                        continue
                    home.owner, home.since = owner, now
                    session.flush()
        except IntegrityError:
            continue
        homed.add(conference_id)
    return homed


def claim_probes(
    session: Session, owner: str, lease: timedelta, method: str, limit: int, now: datetime
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
        probe.claimed_by = owner
        probe.lease_until = now + lease
        probe.attempts += 1
    return [
        WorkItem(
            "probe", p.id, p.sip_uri, p.method, p.hold_seconds, p.answer_timeout_seconds,
            probe_class(p.purpose),
        )
        for p in probes
    ]  # fmt: skip
