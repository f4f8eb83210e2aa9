"""One supervision pass over the running legs: what it knows, and the bookkeeping every step
records (state changes, the incident timeline, dial attempts, call detail records, whether
the launch was on time)."""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bridge.models import CallRecord, Incident, IncidentEvent, Launch, Leg, LegAttempt
from bridge.service import dials
from bridge.service.bookings import ConferenceRef, SiteRef
from bridge.service.dials import DialView
from bridge.service.leg_states import AUDIO, VIDEO, LegState, RecoveryPolicy

log = logging.getLogger(__name__)


@dataclass
class SupervisionPass:
    """What one supervision pass knows: the legs' conferences, sites, launches and dials."""

    session: AsyncSession
    policy: RecoveryPolicy
    now: datetime
    conferences: dict[int, ConferenceRef]
    sites: dict[int, SiteRef]
    launches: dict[int, Launch]
    dials: dict[int, DialView]
    changes: int = 0


async def end_leg(
    state: SupervisionPass, leg: Leg, why: str, *, at: datetime | None = None
) -> None:
    at = at or state.now
    if leg.dial_id is not None:
        await dials.request_hangup(state.session, leg.dial_id)
    leg.ended_at = at
    leg.next_dial_at = None
    set_state(state, leg, LegState.ENDED)
    if leg.incident_id is not None:
        incident = await state.session.get(Incident, leg.incident_id)
        if incident is not None and incident.closed_at is None:
            incident.closed_at = at
            await record_event(state, incident.id, "closed", why, at=at)
    if leg.kind == VIDEO:
        for audio in await audio_links(state, leg):
            await end_leg(state, audio, why, at=at)


async def audio_links(state: SupervisionPass, leg: Leg) -> Sequence[Leg]:
    return (
        await state.session.scalars(
            select(Leg).where(
                Leg.parent_leg_id == leg.id, Leg.kind == AUDIO, Leg.state != LegState.ENDED
            )
        )
    ).all()


def set_state(state: SupervisionPass, leg: Leg, new: str) -> None:
    if leg.state != new:
        leg.state = new
        leg.state_changed_at = state.now
        state.changes += 1


async def record_event(
    state: SupervisionPass,
    incident_id: int,
    kind: str,
    detail: str,
    *,
    at: datetime | None = None,
    recipient: str | None = None,
    outbox_message_id: int | None = None,
) -> None:
    state.session.add(
        IncidentEvent(
            incident_id=incident_id,
            at=at or state.now,
            kind=kind,
            detail=detail[:500],
            recipient=recipient,
            outbox_message_id=outbox_message_id,
        )
    )


async def update_attempt(state: SupervisionPass, dial: DialView) -> None:
    attempt = await state.session.scalar(select(LegAttempt).where(LegAttempt.dial_id == dial.id))
    if attempt is None:
        return
    attempt.connected_at = dial.connected_at
    attempt.ended_at = dial.ended_at
    attempt.final_status = dial.final_status
    attempt.end_reason = dial.end_reason
    if dial.status == "ended" and dial.connected_at is None:
        attempt.cause = dial.cause or "network"
    elif dial.connected_at is not None:
        attempt.cause = "ok"


async def write_call_record(
    state: SupervisionPass,
    leg: Leg,
    connected: datetime,
    disconnected: datetime,
    reason: str | None,
) -> None:
    """One call detail record per connection (SPEC §5), written as it ends."""
    conference = state.conferences.get(leg.conference_id)
    if conference is None or disconnected <= connected:
        return
    overlapping = await state.session.scalar(
        select(CallRecord.id).where(
            CallRecord.site_id == leg.site_id,
            CallRecord.connected_at < disconnected,
            CallRecord.disconnected_at > connected,
        )
    )
    if overlapping is not None:
        # An imported record already covers this time for the site: it stays the record.
        log.warning("leg %s: call record %s of its site overlaps; not written", leg.id, overlapping)
        return
    record = CallRecord(
        conference_id=leg.conference_id,
        conference_number=conference.number,
        customer_id=conference.customer_id,
        site_id=leg.site_id,
        bridge_id=leg.bridge_id,
        leg_id=leg.id,
        connected_at=connected,
        disconnected_at=disconnected,
        speed_kbps=leg.speed_kbps,
        disconnect_cause=reason,
        source="bridge",
        created_at=state.now,
    )
    try:
        async with state.session.begin_nested():
            state.session.add(record)
            await state.session.flush()
    except IntegrityError:  # one stored meanwhile (PostgreSQL's exclusion constraint)
        log.warning("leg %s: a call record of site %s overlaps; not written", leg.id, leg.site_id)


async def decide_on_time(state: SupervisionPass, launch: Launch) -> None:
    """On time: every leg dialed at launch connected within the threshold of the start."""
    if launch.all_connected_at is not None and launch.on_time is not None:
        return
    firsts = list(
        await state.session.scalars(
            select(Leg.first_connected_at).where(
                Leg.conference_id == launch.conference_id,
                Leg.kind == VIDEO,
                Leg.origin.in_(("launch", "adhoc")),
            )
        )
    )
    deadline = launch.scheduled_start + state.policy.on_time_threshold
    if firsts and all(first is not None for first in firsts):
        launch.all_connected_at = max(f for f in firsts if f is not None)
        if launch.on_time is None:
            launch.on_time = launch.all_connected_at <= deadline
        state.changes += 1
    elif launch.on_time is None and state.now > deadline:
        launch.on_time = False
        state.changes += 1
