"""Reading legs' records for the other packages (statistics, recertification, billing): network
faults, call attempts, launches and incidents (the public interface, see helpers'
bridge_interface.md). The API's and live page's views of legs are in `leg_views.py`."""

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from bridge.models import Incident as IncidentRow
from bridge.models import Launch, Leg, LegAttempt
from bridge.service.leg_states import VIDEO

_CHUNK = 500
NETWORK = "network"


@dataclass(frozen=True)
class NetworkFault:
    """A leg that dropped, or a dial that failed, with cause network."""

    leg_id: int
    conference_id: int
    site_id: int
    at: datetime
    kind: str  # "dropped" | "failed" | "lossy"
    cause: str


async def network_faults_since(
    session: AsyncSession, since: datetime | None, until: datetime | None = None
) -> list[NetworkFault]:
    """Video legs that dropped for a network cause (no media), dials of a site's video leg
    that failed for one, and video legs whose packet loss passed the threshold ("lossy"),
    in [since, until), by `at`."""
    dropped = select(IncidentRow).where(IncidentRow.kind == "dropped", IncidentRow.cause == NETWORK)
    failed = (
        select(LegAttempt)
        .join(Leg, Leg.id == LegAttempt.leg_id)
        .where(
            Leg.kind == VIDEO,
            LegAttempt.connected_at.is_(None),
            LegAttempt.ended_at.is_not(None),
            LegAttempt.cause == NETWORK,
        )
    )
    # Columns, not rows: a caller's session may hold the leg with an older `lossy_at`.
    lossy = select(Leg.id, Leg.conference_id, Leg.site_id, Leg.lossy_at).where(
        Leg.kind == VIDEO, Leg.lossy_at.is_not(None)
    )
    if since is not None:
        dropped = dropped.where(IncidentRow.began_at >= since)
        failed = failed.where(LegAttempt.ended_at >= since)
        lossy = lossy.where(Leg.lossy_at >= since)
    if until is not None:
        dropped = dropped.where(IncidentRow.began_at < until)
        failed = failed.where(LegAttempt.ended_at < until)
        lossy = lossy.where(Leg.lossy_at < until)
    faults = [
        NetworkFault(r.leg_id, r.conference_id, r.site_id, r.began_at, "dropped", r.cause)
        for r in await session.scalars(dropped)
    ]
    faults.extend(
        NetworkFault(a.leg_id, a.conference_id, a.site_id, a.ended_at, "failed", NETWORK)
        for a in await session.scalars(failed)
        if a.ended_at is not None
    )
    faults.extend(
        NetworkFault(leg_id, conference_id, site_id, at, "lossy", NETWORK)
        for leg_id, conference_id, site_id, at in (await session.execute(lossy)).all()
        if at is not None
    )
    faults.sort(key=lambda f: (f.at, f.leg_id))
    return faults


@dataclass(frozen=True)
class CallAttempt:
    """One dial of one site (launch, redial, add-site, ad hoc, audio fallback)."""

    conference_id: int
    site_id: int
    leg_id: int
    purpose: str
    requested_at: datetime
    connected_at: datetime | None
    ended_at: datetime | None
    final_status: int | None
    cause: str  # "ok" or the failure cause; "pending" while the dial is still ringing


def _in_conferences(query: Select[Any], column: Any, ids: Sequence[int]) -> list[Select[Any]]:
    return [query.where(column.in_(ids[i : i + _CHUNK])) for i in range(0, len(ids), _CHUNK)]


async def _chunked(
    session: AsyncSession, query: Select[Any], column: Any, ids: Collection[int] | None
) -> list[Any]:
    if ids is None:
        return list((await session.scalars(query)).all())
    rows: list[Any] = []
    for part in _in_conferences(query, column, sorted(set(ids))):
        rows.extend((await session.scalars(part)).all())
    return rows


async def call_attempts(
    session: AsyncSession,
    *,
    start: datetime,
    end: datetime,
    conference_ids: Collection[int] | None = None,
) -> list[CallAttempt]:
    """Dials requested in [start, end), in the order they were requested."""
    query = select(LegAttempt).where(
        LegAttempt.requested_at >= start, LegAttempt.requested_at < end
    )
    rows = await _chunked(session, query, LegAttempt.conference_id, conference_ids)
    rows.sort(key=lambda r: (r.requested_at, r.id))
    return [
        CallAttempt(
            conference_id=r.conference_id,
            site_id=r.site_id,
            leg_id=r.leg_id,
            purpose=r.purpose,
            requested_at=r.requested_at,
            connected_at=r.connected_at,
            ended_at=r.ended_at,
            final_status=r.final_status,
            cause=r.cause or ("ok" if r.connected_at else "pending"),
        )
        for r in rows
    ]


@dataclass(frozen=True)
class LaunchRecord:
    conference_id: int
    scheduled_start: datetime
    launched_at: datetime
    all_connected_at: datetime | None
    on_time: bool | None  # every leg connected within 2 min of start; None = undecided


async def launches(
    session: AsyncSession,
    *,
    start: datetime,
    end: datetime,
    conference_ids: Collection[int] | None = None,
) -> list[LaunchRecord]:
    """Launches of conferences scheduled to start in [start, end)."""
    query = select(Launch).where(Launch.scheduled_start >= start, Launch.scheduled_start < end)
    rows = await _chunked(session, query, Launch.conference_id, conference_ids)
    rows.sort(key=lambda r: (r.scheduled_start, r.id))
    return [
        LaunchRecord(
            r.conference_id, r.scheduled_start, r.launched_at, r.all_connected_at, r.on_time
        )
        for r in rows
    ]


@dataclass(frozen=True)
class Incident:
    """A dropped or failed leg and its recovery."""

    id: int
    leg_id: int
    conference_id: int
    site_id: int
    began_at: datetime
    restored_at: datetime | None
    audio_fallback_at: datetime | None
    cause: str


async def incidents(
    session: AsyncSession,
    *,
    start: datetime,
    end: datetime,
    conference_ids: Collection[int] | None = None,
) -> list[Incident]:
    """Incidents that began in [start, end)."""
    query = select(IncidentRow).where(IncidentRow.began_at >= start, IncidentRow.began_at < end)
    rows = await _chunked(session, query, IncidentRow.conference_id, conference_ids)
    rows.sort(key=lambda r: (r.began_at, r.id))
    return [
        Incident(
            r.id,
            r.leg_id,
            r.conference_id,
            r.site_id,
            r.began_at,
            r.restored_at,
            r.audio_fallback_at,
            r.cause,
        )
        for r in rows
    ]
