"""Legs in motion: following each leg's dial and recovering dropped sites (redial with
backoff, audio link at the window, the contact chain). Launching is `launching.py`."""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bridge.directory import ConferenceDirectory, ConferenceRef, Contact, SiteRef
from bridge.models import CallRecord, Incident, IncidentEvent, Launch, Leg, LegAttempt
from bridge.service import dials
from bridge.service.dials import DialView, end_cause
from bridgedesk import outbox
from bridgedesk.settings import get_settings

log = logging.getLogger(__name__)


class LegState:
    """SPEC §5: dialing → connected → dropped → reconnecting → connected | audio_fallback |
    failed; and ended once the conference is over (or the audio link is no longer needed)."""

    DIALING = "dialing"
    CONNECTED = "connected"
    # Down, waiting for its next dial (backoff).
    DROPPED = "dropped"
    # Down, a redial in flight.
    RECONNECTING = "reconnecting"
    # Past the recovery window with the site's audio link dialed; video redials go on.
    AUDIO_FALLBACK = "audio_fallback"
    # Past the recovery window and no audio link to dial; video redials go on.
    FAILED = "failed"
    ENDED = "ended"


VIDEO, AUDIO = "video", "audio"
# Audio links are billed and rated as a narrowband call.
AUDIO_SPEED_KBPS = 64
# Conference statuses in which the bridge keeps its legs up.
RUNNING_STATUSES = ("requested", "confirmed", "live")


@dataclass(frozen=True)
class RecoveryPolicy:
    """SPEC §5 "every site reconnected within a 5-min troubleshooting window", as settings."""

    window: timedelta
    backoff_initial: timedelta
    backoff_cap: timedelta
    contact_step: timedelta
    on_time_threshold: timedelta

    @classmethod
    def from_settings(cls) -> "RecoveryPolicy":
        s = get_settings()
        return cls(
            window=timedelta(seconds=s.recovery_window_seconds),
            backoff_initial=timedelta(seconds=s.redial_backoff_initial_seconds),
            backoff_cap=timedelta(seconds=s.redial_backoff_cap_seconds),
            contact_step=timedelta(seconds=s.contact_chain_step_seconds),
            on_time_threshold=timedelta(seconds=s.on_time_threshold_seconds),
        )

    def backoff(self, dials_since_connected: int) -> timedelta:
        """At once after a drop, then doubling from the initial wait up to the cap."""
        if dials_since_connected <= 0:
            return timedelta(0)
        return min(self.backoff_cap, self.backoff_initial * 2 ** (dials_since_connected - 1))


async def busy_elsewhere(session: AsyncSession, leg: Leg) -> bool:
    """Whether the site is connected in another conference (an overrun into this one)."""
    found = await session.scalar(
        select(Leg.id)
        .where(
            Leg.site_id == leg.site_id,
            Leg.conference_id != leg.conference_id,
            Leg.state == LegState.CONNECTED,
        )
        .limit(1)
    )
    return found is not None


async def dial_leg(session: AsyncSession, leg: Leg, purpose: str, *, now: datetime) -> None:
    """Ask the engine for the leg's next call and record the attempt."""
    view = await dials.request_dial(session, sip_uri=leg.sip_uri, purpose=purpose, leg_id=leg.id)
    leg.dial_id = view.id
    leg.next_dial_at = None
    leg.redials += 1
    session.add(
        LegAttempt(
            leg_id=leg.id,
            conference_id=leg.conference_id,
            site_id=leg.site_id,
            dial_id=view.id,
            purpose=purpose,
            requested_at=view.requested_at,
        )
    )
    await session.flush()


# -- supervising --


@dataclass
class _Pass:
    """What one supervision pass knows: the legs' conferences, sites, launches and dials."""

    session: AsyncSession
    policy: RecoveryPolicy
    now: datetime
    conferences: dict[int, ConferenceRef]
    sites: dict[int, SiteRef]
    launches: dict[int, Launch]
    dials: dict[int, DialView]
    changes: int = 0


async def supervise(
    session: AsyncSession,
    directory: ConferenceDirectory,
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
    state = _Pass(
        session=session,
        policy=policy or RecoveryPolicy.from_settings(),
        now=now,
        conferences=await directory.conferences(session, conference_ids),
        sites=await directory.sites(session, {leg.site_id for leg in legs}),
        launches=launches,
        dials=await dials.get_dials(session, [leg.dial_id for leg in legs if leg.dial_id]),
    )
    for leg in legs:
        await _advance(state, leg)
    for conference_id in conference_ids:
        launch = launches.get(conference_id)
        if launch is not None:
            await _decide_on_time(state, launch)
    await session.flush()
    return state.changes


def _conference_over(state: _Pass, leg: Leg) -> bool:
    """Past the end as booked at launch (a site leaving then is leaving, not dropping), or
    no longer running at all."""
    conference = state.conferences.get(leg.conference_id)
    launch = state.launches.get(leg.conference_id)
    if conference is None or conference.status not in RUNNING_STATUSES:
        return True
    return launch is not None and state.now >= launch.scheduled_end


def _conference_stopped(state: _Pass, leg: Leg) -> bool:
    conference = state.conferences.get(leg.conference_id)
    return conference is None or conference.status not in RUNNING_STATUSES


async def _advance(state: _Pass, leg: Leg) -> None:
    dial = state.dials.get(leg.dial_id) if leg.dial_id else None
    if dial is not None:
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
            await _end_leg(state, leg, "the conference is over")
        return
    due = leg.next_dial_at is not None and leg.next_dial_at <= state.now
    if leg.state != LegState.CONNECTED and leg.dial_id is None and due:
        await _redial(state, leg)
    if leg.kind == VIDEO and leg.incident_id is None and dial is not None:
        await _check_stuck(state, leg, dial)
    if leg.kind == VIDEO and leg.incident_id is not None:
        await _escalate(state, leg)


async def _check_stuck(state: _Pass, leg: Leg, dial: DialView) -> None:
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
    await _event(
        state, incident.id, "failed", f"dial still {dial.status}: no answer from the SIP engine"
    )
    state.changes += 1


async def _connected(state: _Pass, leg: Leg, dial: DialView) -> None:
    at = dial.connected_at or state.now
    leg.connected_at = at
    leg.first_connected_at = leg.first_connected_at or at
    leg.redials = 0
    leg.next_dial_at = None
    await _attempt_update(state, dial)
    if leg.kind == AUDIO:
        _set_state(state, leg, LegState.CONNECTED)
        parent = await state.session.get(Leg, leg.parent_leg_id) if leg.parent_leg_id else None
        if parent is not None and parent.incident_id is not None:
            await _event(state, parent.incident_id, "audio_connected", "audio link connected")
        return
    _set_state(state, leg, LegState.CONNECTED)
    if leg.incident_id is not None:
        incident = await state.session.get(Incident, leg.incident_id)
        if incident is not None and incident.closed_at is None:
            incident.restored_at = at
            incident.closed_at = at
            await _event(state, incident.id, "restored", "video reconnected", at=at)
        leg.incident_id = None
        # The audio link stood in for the video: now it goes, and its record ends here.
        for audio in await _audio_links(state, leg):
            await _end_leg(state, audio, "video restored", at=at)


async def _dial_ended(state: _Pass, leg: Leg, dial: DialView) -> None:
    ended = dial.ended_at or state.now
    connected = dial.connected_at or leg.connected_at
    await _attempt_update(state, dial)
    leg.dial_id = None
    if connected is not None:
        leg.first_connected_at = leg.first_connected_at or connected
        # An audio link replaced by video ends at the moment the video came back.
        until = min(ended, leg.ended_at) if leg.ended_at else ended
        await _write_record(state, leg, connected, max(until, connected), dial.end_reason)
    leg.connected_at = None
    if leg.state == LegState.ENDED or dial.end_reason == "hangup":
        return
    if _conference_over(state, leg):
        await _end_leg(state, leg, "left after the scheduled end", at=ended)
        return
    await _went_down(state, leg, dial, was_connected=connected is not None, at=ended)


async def _went_down(
    state: _Pass, leg: Leg, dial: DialView, *, was_connected: bool, at: datetime
) -> None:
    if was_connected:
        cause = end_cause(dial.end_reason, dial.final_status) or "network"
        leg.redials = 0  # a drop is redialed at once
    else:
        cause = dial.cause or "network"
    detail = _dial_detail(dial)
    leg.next_dial_at = state.now + state.policy.backoff(leg.redials)
    if leg.kind == AUDIO:
        _set_state(state, leg, LegState.DROPPED)
        parent = await state.session.get(Leg, leg.parent_leg_id) if leg.parent_leg_id else None
        if parent is not None and parent.incident_id is not None:
            kind = "audio_dropped" if was_connected else "audio_failed"
            await _event(state, parent.incident_id, kind, detail)
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
        await _event(state, incident.id, incident.kind, f"{detail}; cause {cause}", at=at)
    else:
        await _event(state, leg.incident_id, "redial_failed", detail)
    if leg.state in (LegState.CONNECTED, LegState.DIALING, LegState.RECONNECTING):
        _set_state(state, leg, LegState.DROPPED)


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


async def _redial(state: _Pass, leg: Leg) -> None:
    if leg.kind == VIDEO and await busy_elsewhere(state.session, leg):
        leg.next_dial_at = state.now + state.policy.backoff_initial
        return
    if leg.kind == AUDIO:
        purpose = "audio_fallback"
    elif leg.first_connected_at is None and leg.incident_id is None:
        purpose = leg.origin
    else:
        purpose = "redial"
    await dial_leg(state.session, leg, purpose, now=state.now)
    if leg.state == LegState.DROPPED:
        _set_state(state, leg, LegState.RECONNECTING)
    target = leg.incident_id
    if leg.kind == AUDIO and leg.parent_leg_id:
        parent = await state.session.get(Leg, leg.parent_leg_id)
        target = parent.incident_id if parent else None
    if target is not None:
        what = "audio link redial" if leg.kind == AUDIO else "redial"
        await _event(state, target, "redial", f"{what} {leg.redials}")
    state.changes += 1


async def _escalate(state: _Pass, leg: Leg) -> None:
    """Past the window: the audio link, then the contact chain step by step."""
    incident = await state.session.get(Incident, leg.incident_id)
    if incident is None or incident.closed_at is not None:
        return
    if incident.audio_fallback_at is None:
        if state.now < incident.recovery_deadline:
            return
        incident.audio_fallback_at = state.now
        site = state.sites.get(leg.site_id)
        audio_uri = (site.audio_uri if site else None) or leg.audio_uri
        if audio_uri:
            await _dial_audio_link(state, leg, audio_uri)
            _set_state(state, leg, LegState.AUDIO_FALLBACK)
            await _event(state, incident.id, "audio_fallback_dialed", f"audio link {audio_uri}")
        else:
            _set_state(state, leg, LegState.FAILED)
            await _event(state, incident.id, "no_fallback", "the site has no audio fallback URI")
    await _notify_contacts(state, leg, incident)


async def _dial_audio_link(state: _Pass, leg: Leg, audio_uri: str) -> None:
    audio = Leg(
        conference_id=leg.conference_id,
        site_id=leg.site_id,
        bridge_id=leg.bridge_id,
        kind=AUDIO,
        parent_leg_id=leg.id,
        origin="audio_fallback",
        sip_uri=audio_uri,
        audio_uri=None,
        speed_kbps=AUDIO_SPEED_KBPS,
        state=LegState.DIALING,
        redials=0,
        created_at=state.now,
        state_changed_at=state.now,
    )
    state.session.add(audio)
    await state.session.flush()
    await dial_leg(state.session, audio, "audio_fallback", now=state.now)
    state.changes += 1


def contact_chain(site: SiteRef | None, conference: ConferenceRef | None) -> list[Contact]:
    """SPEC §5: the site's technical contacts in order, then the conference's scheduler,
    then the customer's primary contact."""
    chain = list(site.contacts) if site else []
    if conference is not None:
        chain.extend(c for c in (conference.scheduler, conference.primary_contact) if c)
    return chain


async def _notify_contacts(state: _Pass, leg: Leg, incident: Incident) -> None:
    assert incident.audio_fallback_at is not None
    site = state.sites.get(leg.site_id)
    conference = state.conferences.get(leg.conference_id)
    chain = contact_chain(site, conference)
    if state.policy.contact_step <= timedelta(0):
        due = len(chain)
    else:
        elapsed = state.now - incident.audio_fallback_at
        due = min(len(chain), 1 + int(elapsed / state.policy.contact_step))
    for step in range(incident.contacts_notified, due):
        contact = chain[step]
        role = _chain_role(step, site, conference)
        message = None
        if contact.email:
            message = await outbox.enqueue_email(
                state.session,
                topic="site_down",
                to=[contact.email],
                template="bridge/email/site_down.txt",
                context={
                    "contact": contact,
                    "role": role,
                    "step": step + 1,
                    "site_name": site.name if site else f"site {leg.site_id}",
                    "conference": conference,
                    "incident": incident,
                    "audio_link": leg.state == LegState.AUDIO_FALLBACK,
                },
                dedupe_key=f"bridge-incident-{incident.id}-contact-{step}",
            )
        reachable = contact.email or contact.phone or contact.mobile or contact.pager or "-"
        await _event(
            state,
            incident.id,
            "contact_notified" if message else "contact_unreachable",
            f"step {step + 1}: {role} {contact.name}".strip(),
            recipient=contact.email or reachable,
            outbox_message_id=message.id if message else None,
        )
        incident.contacts_notified = step + 1
        state.changes += 1


def _chain_role(step: int, site: SiteRef | None, conference: ConferenceRef | None) -> str:
    site_contacts = len(site.contacts) if site else 0
    if step < site_contacts:
        return "site technical contact"
    if conference is not None and conference.scheduler and step == site_contacts:
        return "scheduler"
    return "customer primary contact"


async def _end_leg(state: _Pass, leg: Leg, why: str, *, at: datetime | None = None) -> None:
    at = at or state.now
    if leg.dial_id is not None:
        await dials.request_hangup(state.session, leg.dial_id)
    leg.ended_at = at
    leg.next_dial_at = None
    _set_state(state, leg, LegState.ENDED)
    if leg.incident_id is not None:
        incident = await state.session.get(Incident, leg.incident_id)
        if incident is not None and incident.closed_at is None:
            incident.closed_at = at
            await _event(state, incident.id, "closed", why, at=at)
    if leg.kind == VIDEO:
        for audio in await _audio_links(state, leg):
            await _end_leg(state, audio, why, at=at)


async def _audio_links(state: _Pass, leg: Leg) -> Sequence[Leg]:
    return (
        await state.session.scalars(
            select(Leg).where(
                Leg.parent_leg_id == leg.id, Leg.kind == AUDIO, Leg.state != LegState.ENDED
            )
        )
    ).all()


def _set_state(state: _Pass, leg: Leg, new: str) -> None:
    if leg.state != new:
        leg.state = new
        leg.state_changed_at = state.now
        state.changes += 1


async def _event(
    state: _Pass,
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


async def _attempt_update(state: _Pass, dial: DialView) -> None:
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


async def _write_record(
    state: _Pass, leg: Leg, connected: datetime, disconnected: datetime, reason: str | None
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


async def _decide_on_time(state: _Pass, launch: Launch) -> None:
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


async def legs_all_ended(
    session: AsyncSession, conference_id: int, *, default: datetime
) -> datetime | None:
    """When the conference's last leg ended, if all have (and none waits on its dial);
    `default` for a conference without legs (an ad hoc call whose sites were all busy)."""
    legs = (await session.scalars(select(Leg).where(Leg.conference_id == conference_id))).all()
    if any(leg.state != LegState.ENDED or leg.dial_id for leg in legs):
        return None
    return max((leg.ended_at for leg in legs if leg.ended_at), default=default)
