"""A conference's legs as the API and the operators' live page show them: each leg with its
state, media quality and incidents (each with its timeline), for one conference (whoever may
see it) or every running one. The records other packages read are in `legs.py`."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bridge.models import Incident as IncidentRow
from bridge.models import IncidentEvent, Launch, Leg
from bridge.service import bookings
from bridge.service.bookings import ConferenceRef
from bridge.service.leg_states import AUDIO, LegState
from bridgedesk.errors import NotFound
from bridgedesk.identity import Actor


class ConferenceNotFound(NotFound):
    message = "No such conference."


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
