"""Legs in motion: each supervision pass follows every leg's dial and recovers dropped sites
(redial at once and then with backoff; past the window, `escalation.py`: the audio link and
the contact chain). Launching is `launching.py`; the pass's bookkeeping is `supervision.py`."""

import logging
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bridge.models import Incident, Launch, Leg
from bridge.service import bookings, dials, escalation
from bridge.service.dials import DialView, end_cause
from bridge.service.leg_states import (
    AUDIO,
    RUNNING_STATUSES,
    VIDEO,
    LegState,
    RecoveryPolicy,
    busy_elsewhere,
    dial_leg,
)
from bridge.service.supervision import (
    SupervisionPass,
    audio_links,
    decide_on_time,
    end_leg,
    record_event,
    set_state,
    update_attempt,
    write_call_record,
)
from bridgedesk.settings import get_settings

log = logging.getLogger(__name__)

# Loss is judged once the call has sent this many packets (2 s of 20 ms audio).
LOSS_MIN_PACKETS = 100


async def supervise(
    session: AsyncSession,
    *,
    now: datetime,
    policy: RecoveryPolicy | None = None,
) -> int:
    """Advance every leg that is not over from what its dial did; returns how many changed.

    Legs are taken FOR UPDATE SKIP LOCKED (PostgreSQL), so two supervisors never act on the
    same leg; running it again with nothing new from the engine changes nothing.
    """
    legs = (
        await session.scalars(
            select(Leg)
            .where(or_(Leg.state != LegState.ENDED, Leg.dial_id.is_not(None)))
            .order_by(Leg.id)
            .with_for_update(skip_locked=True)
        )
    ).all()
    if not legs:
        return 0
    conference_ids = {leg.conference_id for leg in legs}
    launches = {
        launch.conference_id: launch
        for launch in await session.scalars(
            select(Launch).where(Launch.conference_id.in_(conference_ids))
        )
    }
    state = SupervisionPass(
        session=session,
        policy=policy or RecoveryPolicy.from_settings(),
        now=now,
        conferences=await bookings.conferences(session, conference_ids),
        sites=await bookings.sites(session, {leg.site_id for leg in legs}),
        launches=launches,
        dials=await dials.get_dials(session, [leg.dial_id for leg in legs if leg.dial_id]),
    )
    for leg in legs:
        dial = state.dials.get(leg.dial_id) if leg.dial_id else None
        if dial is not None and _quiet(state, leg, dial):
            _copy_media(state, leg, dial)
            continue
        # One leg's failure is its own: logged with its id, the others still advance.
        try:
            async with session.begin_nested():
                await _advance(state, leg)
        except Exception:
            log.exception("leg %s: supervision failed; the other legs go on", leg.id)
    for conference_id in conference_ids:
        launch = launches.get(conference_id)
        if launch is not None:
            await decide_on_time(state, launch)
    await session.flush()
    return state.changes


def _conference_over(state: SupervisionPass, leg: Leg) -> bool:
    """Past the end as booked at launch (a site leaving then is leaving, not dropping), or
    no longer running at all."""
    conference = state.conferences.get(leg.conference_id)
    launch = state.launches.get(leg.conference_id)
    if conference is None or conference.status not in RUNNING_STATUSES:
        return True
    return launch is not None and state.now >= launch.scheduled_end


def _conference_stopped(state: SupervisionPass, leg: Leg) -> bool:
    conference = state.conferences.get(leg.conference_id)
    return conference is None or conference.status not in RUNNING_STATUSES


def _quiet(state: SupervisionPass, leg: Leg, dial: DialView) -> bool:
    """Nothing but its media can change for this leg in this pass (most legs, most passes):
    its call is still ringing or still up, no incident, its conference still on. Such legs
    skip the savepoint and the queries, so a pass over hundreds of legs stays short and a
    drop elsewhere is redialed at once."""
    if leg.incident_id is not None or leg.state == LegState.ENDED or _conference_over(state, leg):
        return False
    if dial.status in ("queued", "dialing"):
        stuck_at = dial.requested_at + state.policy.window
        return leg.kind == AUDIO or leg.first_connected_at is not None or state.now < stuck_at
    if dial.status == "connected":
        return leg.connected_at is not None
    return False


def _copy_media(state: SupervisionPass, leg: Leg, dial: DialView) -> None:
    """The connection's media quality onto the leg; loss past the threshold (over enough
    packets to mean something) marks the leg lossy once: a network fault."""
    if dial.rx_level is None and dial.tx_packets is None:
        return
    leg.media_rx_packets = dial.rtp_packets_received
    leg.media_tx_packets = dial.tx_packets
    leg.media_loss_pct = dial.loss_pct
    leg.media_jitter_ms = dial.jitter_ms
    leg.media_rx_level = dial.rx_level
    threshold = get_settings().media_loss_threshold_pct
    if (
        leg.lossy_at is None
        and dial.loss_pct is not None
        and dial.loss_pct > threshold
        and (dial.tx_packets or 0) >= LOSS_MIN_PACKETS
    ):
        leg.lossy_at = state.now
        state.changes += 1


async def _advance(state: SupervisionPass, leg: Leg) -> None:
    dial = state.dials.get(leg.dial_id) if leg.dial_id else None
    if dial is not None:
        _copy_media(state, leg, dial)
        if dial.status == "connected" and leg.connected_at is None:
            await _connected(state, leg, dial)
        elif dial.status == "ended":
            await _dial_ended(state, leg, dial)
    if leg.state == LegState.ENDED:
        return
    if _conference_over(state, leg):
        # Never cut a running call at the scheduled end (SPEC §3 overrun); only a conference
        # that is no longer running at all hangs up its connected legs.
        if leg.state != LegState.CONNECTED or _conference_stopped(state, leg):
            await end_leg(state, leg, "the conference is over")
        return
    due = leg.next_dial_at is not None and leg.next_dial_at <= state.now
    if leg.state != LegState.CONNECTED and leg.dial_id is None and due:
        await _redial(state, leg)
    if leg.kind == VIDEO and leg.incident_id is None and dial is not None:
        await _check_stuck(state, leg, dial)
    if leg.kind == VIDEO and leg.incident_id is not None:
        await escalation.escalate(state, leg)


async def _check_stuck(state: SupervisionPass, leg: Leg, dial: DialView) -> None:
    """A first dial still unanswered after the whole window (the SIP engine is down or
    stuck, since its own answer timeout is far shorter) is a late call: recover it too."""
    if dial.status not in ("queued", "dialing") or leg.first_connected_at is not None:
        return
    if state.now < dial.requested_at + state.policy.window:
        return
    incident = Incident(
        leg_id=leg.id,
        conference_id=leg.conference_id,
        site_id=leg.site_id,
        kind="failed",
        cause="technical_support",
        began_at=dial.requested_at,
        recovery_deadline=dial.requested_at + state.policy.window,
        contacts_notified=0,
    )
    state.session.add(incident)
    await state.session.flush()
    leg.incident_id = incident.id
    await record_event(
        state, incident.id, "failed", f"dial still {dial.status}: no answer from the SIP engine"
    )
    state.changes += 1


async def _connected(state: SupervisionPass, leg: Leg, dial: DialView) -> None:
    at = dial.connected_at or state.now
    leg.connected_at = at
    leg.first_connected_at = leg.first_connected_at or at
    leg.redials = 0
    leg.next_dial_at = None
    await update_attempt(state, dial)
    if leg.kind == AUDIO:
        set_state(state, leg, LegState.CONNECTED)
        parent = await state.session.get(Leg, leg.parent_leg_id) if leg.parent_leg_id else None
        if parent is not None and parent.incident_id is not None:
            await record_event(state, parent.incident_id, "audio_connected", "audio link connected")
        return
    set_state(state, leg, LegState.CONNECTED)
    if leg.incident_id is not None:
        incident = await state.session.get(Incident, leg.incident_id)
        if incident is not None and incident.closed_at is None:
            incident.restored_at = at
            incident.closed_at = at
            await record_event(state, incident.id, "restored", "video reconnected", at=at)
        leg.incident_id = None
        # The audio link stood in for the video: now it goes, and its record ends here.
        for audio in await audio_links(state, leg):
            await end_leg(state, audio, "video restored", at=at)


async def _dial_ended(state: SupervisionPass, leg: Leg, dial: DialView) -> None:
    ended = dial.ended_at or state.now
    connected = dial.connected_at or leg.connected_at
    await update_attempt(state, dial)
    leg.dial_id = None
    if connected is not None:
        leg.first_connected_at = leg.first_connected_at or connected
        # An audio link replaced by video ends at the moment the video came back.
        until = min(ended, leg.ended_at) if leg.ended_at else ended
        await write_call_record(state, leg, connected, max(until, connected), dial.end_reason)
    leg.connected_at = None
    if leg.state == LegState.ENDED or dial.end_reason == "hangup":
        return
    if _conference_over(state, leg):
        await end_leg(state, leg, "left after the scheduled end", at=ended)
        return
    await _went_down(state, leg, dial, was_connected=connected is not None, at=ended)


async def _went_down(
    state: SupervisionPass, leg: Leg, dial: DialView, *, was_connected: bool, at: datetime
) -> None:
    if was_connected:
        cause = end_cause(dial.end_reason, dial.final_status) or "network"
        leg.redials = 0  # a drop is redialed at once
    else:
        cause = dial.cause or "network"
    detail = _dial_detail(dial)
    leg.next_dial_at = state.now + state.policy.backoff(leg.redials)
    if leg.kind == AUDIO:
        set_state(state, leg, LegState.DROPPED)
        parent = await state.session.get(Leg, leg.parent_leg_id) if leg.parent_leg_id else None
        if parent is not None and parent.incident_id is not None:
            kind = "audio_dropped" if was_connected else "audio_failed"
            await record_event(state, parent.incident_id, kind, detail)
        return
    if leg.incident_id is None:
        incident = Incident(
            leg_id=leg.id,
            conference_id=leg.conference_id,
            site_id=leg.site_id,
            kind="dropped" if was_connected else "failed",
            cause=cause,
            began_at=at,
            recovery_deadline=at + state.policy.window,
            contacts_notified=0,
        )
        state.session.add(incident)
        await state.session.flush()
        leg.incident_id = incident.id
        await record_event(state, incident.id, incident.kind, f"{detail}; cause {cause}", at=at)
    else:
        await record_event(state, leg.incident_id, "redial_failed", detail)
    if leg.state in (LegState.CONNECTED, LegState.DIALING, LegState.RECONNECTING):
        set_state(state, leg, LegState.DROPPED)


def _dial_detail(dial: DialView) -> str:
    if dial.connected_at is not None:
        reasons = {
            "remote_bye": "the site hung up",
            "no_media": "no media from the site",
            "engine_lost": "the SIP engine lost the call",
        }
        return reasons.get(dial.end_reason or "", dial.end_reason or "call ended")
    if dial.final_status:
        return f"call failed: SIP {dial.final_status}"
    return f"call failed: {dial.end_reason or 'no answer'}"


async def _redial(state: SupervisionPass, leg: Leg) -> None:
    if leg.kind == VIDEO and await busy_elsewhere(state.session, leg):
        leg.next_dial_at = state.now + state.policy.backoff_initial
        return
    if leg.kind == AUDIO:
        purpose = "audio_fallback"
    elif leg.first_connected_at is None and leg.incident_id is None:
        purpose = leg.origin
    else:
        purpose = "redial"
    if not await dial_leg(state.session, leg, purpose, now=state.now):
        state.changes += 1  # failed for good, or waiting for the target's redial limit
        return
    if leg.state == LegState.DROPPED:
        set_state(state, leg, LegState.RECONNECTING)
    target = leg.incident_id
    if leg.kind == AUDIO and leg.parent_leg_id:
        parent = await state.session.get(Leg, leg.parent_leg_id)
        target = parent.incident_id if parent else None
    if target is not None:
        what = "audio link redial" if leg.kind == AUDIO else "redial"
        await record_event(state, target, "redial", f"{what} {leg.redials}")
    state.changes += 1


async def legs_all_ended(
    session: AsyncSession, conference_id: int, *, default: datetime
) -> datetime | None:
    """When the conference's last leg ended, if all have (and none waits on its dial);
    `default` for a conference without legs (an ad hoc call whose sites were all busy)."""
    legs = (await session.scalars(select(Leg).where(Leg.conference_id == conference_id))).all()
    if any(leg.state != LegState.ENDED or leg.dial_id for leg in legs):
        return None
    return max((leg.ended_at for leg in legs if leg.ended_at), default=default)
