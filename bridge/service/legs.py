"""Reading legs, launches, call attempts and incidents: for the API, the operators' live page,
and the other packages (statistics, recertification, billing)."""

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from bridge.models import Incident as IncidentRow
from bridge.models import IncidentEvent, Launch, Leg, LegAttempt
from bridge.service import bookings
from bridge.service.bookings import ConferenceRef
from bridge.service.leg_states import AUDIO, VIDEO, LegState
from bridgedesk.errors import NotFound
from bridgedesk.identity import Actor

_CHUNK = 500
NETWORK = "network"


class ConferenceNotFound(NotFound):
    message = "No such conference."


# -- the public interface (see helpers' bridge_interface.md) --


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


# -- views for the API and the live page --


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str
    detail: str
    recipient: str | None


@dataclass(frozen=True)
class IncidentView:
    id: int
    kind: str
    cause: str
    began_at: datetime
    recovery_deadline: datetime
    restored_at: datetime | None
    audio_fallback_at: datetime | None
    closed_at: datetime | None
    timeline: list[TimelineEntry]


@dataclass(frozen=True)
class MediaQuality:
    """A leg's media from pjsua2's stream statistics (its current or last connection)."""

    rx_packets: int
    tx_packets: int
    loss_pct: float
    jitter_ms: float
    # Peak received audio level over the last few seconds, 0-255 (pjsua2's getRxLevel).
    rx_level: int


def media_quality(leg: Leg) -> MediaQuality | None:
    if leg.media_tx_packets is None and leg.media_rx_level is None:
        return None
    return MediaQuality(
        rx_packets=leg.media_rx_packets or 0,
        tx_packets=leg.media_tx_packets or 0,
        loss_pct=leg.media_loss_pct or 0.0,
        jitter_ms=leg.media_jitter_ms or 0.0,
        rx_level=leg.media_rx_level or 0,
    )


@dataclass(frozen=True)
class LegView:
    id: int
    site_id: int
    site_name: str
    kind: str
    parent_leg_id: int | None
    origin: str
    sip_uri: str
    speed_kbps: int
    state: str
    connected_at: datetime | None
    first_connected_at: datetime | None
    state_changed_at: datetime
    next_dial_at: datetime | None
    redials: int
    ended_at: datetime | None
    # While the leg is down and the audio link not dialed yet: when it will be.
    recovery_deadline: datetime | None
    incident: IncidentView | None
    incidents: list[IncidentView]
    media: MediaQuality | None = None
    # Why a leg that could not be dialed is failed.
    cause: str | None = None
    detail: str | None = None


@dataclass(frozen=True)
class ConferenceLegs:
    conference: ConferenceRef
    launch: Launch | None
    legs: list[LegView]

    @property
    def drops(self) -> int:
        return sum(len(leg.incidents) for leg in self.legs)


async def conference_legs(
    session: AsyncSession, conference_id: int, *, by: Actor
) -> ConferenceLegs:
    """A conference's legs with their incidents' timelines, for whoever may see it."""
    found = await bookings.conferences(session, [conference_id])
    conference = found.get(conference_id)
    if conference is None or not by.may_see_customer(conference.customer_id):
        raise ConferenceNotFound()
    [result] = await _legs_of(session, [conference])
    return result


async def running_conferences(session: AsyncSession) -> list[ConferenceLegs]:
    """Every conference the bridge has launched and not ended, with its legs (live page)."""
    ids = list(
        await session.scalars(
            select(Launch.conference_id)
            .where(Launch.ended_at.is_(None))
            .order_by(Launch.scheduled_start, Launch.id)
        )
    )
    found = await bookings.conferences(session, ids)
    return await _legs_of(session, [found[i] for i in ids if i in found])


async def _legs_of(
    session: AsyncSession, conferences: Sequence[ConferenceRef]
) -> list[ConferenceLegs]:
    ids = [c.id for c in conferences]
    if not ids:
        return []
    launches = {
        r.conference_id: r
        for r in await session.scalars(select(Launch).where(Launch.conference_id.in_(ids)))
    }
    legs = (
        await session.scalars(
            select(Leg).where(Leg.conference_id.in_(ids)).order_by(Leg.conference_id, Leg.id)
        )
    ).all()
    incident_rows = (
        await session.scalars(
            select(IncidentRow)
            .where(IncidentRow.conference_id.in_(ids))
            .order_by(IncidentRow.began_at, IncidentRow.id)
        )
    ).all()
    events: dict[int, list[TimelineEntry]] = {}
    if incident_rows:
        for event in await session.scalars(
            select(IncidentEvent)
            .where(IncidentEvent.incident_id.in_([i.id for i in incident_rows]))
            .order_by(IncidentEvent.at, IncidentEvent.id)
        ):
            events.setdefault(event.incident_id, []).append(
                TimelineEntry(event.at, event.kind, event.detail, event.recipient)
            )
    by_leg: dict[int, list[IncidentView]] = {}
    for row in incident_rows:
        by_leg.setdefault(row.leg_id, []).append(
            IncidentView(
                row.id,
                row.kind,
                row.cause,
                row.began_at,
                row.recovery_deadline,
                row.restored_at,
                row.audio_fallback_at,
                row.closed_at,
                events.get(row.id, []),
            )
        )
    sites = await bookings.sites(session, {leg.site_id for leg in legs})
    views: dict[int, list[LegView]] = {i: [] for i in ids}
    for leg in legs:
        history = by_leg.get(leg.id, [])
        current = next((i for i in history if i.id == leg.incident_id), None)
        waiting = (
            current is not None
            and current.audio_fallback_at is None
            and leg.state in (LegState.DROPPED, LegState.RECONNECTING)
        )
        site = sites.get(leg.site_id)
        views[leg.conference_id].append(
            LegView(
                id=leg.id,
                site_id=leg.site_id,
                site_name=(site.name if site else f"site {leg.site_id}")
                + (" (audio link)" if leg.kind == AUDIO else ""),
                kind=leg.kind,
                parent_leg_id=leg.parent_leg_id,
                origin=leg.origin,
                sip_uri=leg.sip_uri,
                speed_kbps=leg.speed_kbps,
                state=leg.state,
                connected_at=leg.connected_at,
                first_connected_at=leg.first_connected_at,
                state_changed_at=leg.state_changed_at,
                next_dial_at=leg.next_dial_at,
                redials=leg.redials,
                ended_at=leg.ended_at,
                recovery_deadline=current.recovery_deadline if waiting and current else None,
                incident=current,
                incidents=history,
                media=media_quality(leg),
                cause=leg.cause,
                detail=leg.detail,
            )
        )
    return [ConferenceLegs(c, launches.get(c.id), views[c.id]) for c in conferences]
