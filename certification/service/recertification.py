"""Recertification after network problems in a conference (SPEC §4): the bridge reports legs
that dropped or failed with cause `network`; certification decides what that means for the site.

Each fault is acted on once (its row in `certification_faults` is the proof); the watermark
only bounds how much of the bridge's history is read again, with an overlap for faults
committed late by a slow transaction.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from bridge.service import legs
from bridgedesk import isolation
from bridgedesk.clock import utcnow
from certification.models import (
    CertificationFault,
    CertificationRecord,
    CertificationState,
    CertificationWatermark,
    DeadlineKind,
)
from certification.service import deadlines
from certification.service.records import (
    SYSTEM_ACTOR,
    audit,
    ensure_records,
    lock_record,
    set_deadlines,
    set_state,
)

WATERMARK = "network_faults"
# Faults are read again this far behind the newest one seen.
OVERLAP = timedelta(minutes=10)
NETWORK = "network"


class NetworkFaultLike(Protocol):
    @property
    def leg_id(self) -> int: ...
    @property
    def conference_id(self) -> int: ...
    @property
    def site_id(self) -> int: ...
    @property
    def at(self) -> datetime: ...
    @property
    def kind(self) -> str: ...
    @property
    def cause(self) -> str: ...


async def recertify_after_network_faults(session: AsyncSession) -> int:
    """Read the bridge's network faults since the watermark and act on the new ones."""
    mark = await session.get(CertificationWatermark, WATERMARK)
    since = mark.value - OVERLAP if mark is not None else None
    faults = await legs.network_faults_since(session, since=since)
    acted = await apply_network_faults(session, faults)
    if faults:
        newest = max(f.at for f in faults)
        if mark is None:
            session.add(CertificationWatermark(name=WATERMARK, value=newest))
        elif newest > mark.value:
            mark.value = newest
    await session.flush()
    return acted


async def apply_network_faults(session: AsyncSession, faults: Sequence[NetworkFaultLike]) -> int:
    """Put each certified site a new fault names in `recertification_required` (+24 h)."""
    await ensure_records(session)
    acted = 0

    async def apply(fault: NetworkFaultLike) -> None:
        nonlocal acted
        key = (fault.leg_id, fault.kind, fault.at)
        if await session.get(CertificationFault, key) is not None:
            return
        session.add(
            CertificationFault(
                leg_id=fault.leg_id,
                kind=fault.kind,
                at=fault.at,
                site_id=fault.site_id,
                conference_id=fault.conference_id,
                seen_at=utcnow(),
            )
        )
        record = await lock_record(session, fault.site_id)
        what = (
            f"leg {fault.leg_id} {fault.kind} (cause {fault.cause}) "
            f"in conference {fault.conference_id}"
        )
        if record.first_certified_at is None:
            # Never certified: it cannot be re-certified; its first certification still runs.
            audit(session, fault.site_id, SYSTEM_ACTOR, "network_fault", None, what, at=fault.at)
        elif (
            record.deadline_kind == DeadlineKind.RECERTIFICATION
            and record.state != CertificationState.CERTIFIED
        ):
            # Already waiting: the earlier fault's deadline stands.
            audit(session, fault.site_id, SYSTEM_ACTOR, "network_fault", None, what, at=fault.at)
        else:
            await require_recertification(session, record, fault.at, actor=SYSTEM_ACTOR, note=what)
            acted += 1
        await session.flush()

    await isolation.each_in_savepoint(
        session,
        [f for f in sorted(faults, key=lambda f: (f.at, f.leg_id)) if f.cause == NETWORK],
        apply,
        job="recertify_after_network_faults",
        name=lambda f: f"leg {f.leg_id} {f.kind} at {f.at.isoformat()} (site {f.site_id})",
    )
    await session.flush()
    return acted


async def require_recertification(
    session: AsyncSession, record: CertificationRecord, since: datetime, *, actor: str, note: str
) -> None:
    """The site must be certified again within 24 h of `since` (when its problem began)."""
    record.recertification_cause_at = since
    await set_deadlines(
        session,
        record,
        DeadlineKind.RECERTIFICATION,
        since,
        None,
        deadlines.recertification_due(since),
        actor=actor,
    )
    await set_state(
        session, record, CertificationState.RECERTIFICATION_REQUIRED, actor=actor, note=note
    )
