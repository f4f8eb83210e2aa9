"""Call history for a conference that was held: its launch, legs, dials, drops and call
detail records as the bridge would have written them (the demo's past month)."""

import random
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bridge.models import CallRecord, Incident, IncidentEvent, Launch, Leg, LegAttempt
from bridge.service.bookings import ConferenceRef, SiteRef
from bridge.service.leg_states import AUDIO_SPEED_KBPS, LegState

# SPEC §1: failure causes of failed calls with the provider's historical shares (percent).
FAILURE_CAUSE_SHARES: tuple[tuple[str, int], ...] = (
    ("client_not_synchronized", 69),
    ("network", 27),
    ("client_hardware", 2),
    ("reservations", 1),
    ("technical_support", 1),
)
FAILED_STATUS = {
    "client_not_synchronized": 480,
    "network": 408,
    "client_hardware": 503,
    "reservations": 404,
    "technical_support": 500,
}
# Shares used for the demo's month: a few failed first dials, a few drops.
FIRST_DIAL_FAILS = 0.03
LEG_DROPS = 0.06


def failure_cause(rng: random.Random) -> str:
    causes = [cause for cause, _ in FAILURE_CAUSE_SHARES]
    weights = [weight for _, weight in FAILURE_CAUSE_SHARES]
    return rng.choices(causes, weights)[0]


async def record_history(
    session: AsyncSession,
    conference: ConferenceRef,
    sites: dict[int, SiteRef],
    *,
    rng: random.Random,
    window: timedelta = timedelta(minutes=5),
) -> int:
    """Write a held conference's call history; returns the number of call records."""
    start, end = conference.starts_at, conference.ends_at
    launch = Launch(
        conference_id=conference.id,
        bridge_id=conference.bridge_id,
        scheduled_start=start,
        scheduled_end=end,
        launched_at=start,
        ended_at=end,
    )
    session.add(launch)
    firsts: list[datetime] = []
    records = 0
    for held in conference.sites:
        site = sites.get(held.site_id)
        if site is None:
            continue
        leg = Leg(
            conference_id=conference.id,
            site_id=site.id,
            bridge_id=conference.bridge_id,
            kind="video",
            origin="launch",
            sip_uri=site.sip_uri,
            audio_uri=site.audio_uri,
            speed_kbps=held.speed_kbps,
            state=LegState.ENDED,
            redials=0,
            created_at=start,
            state_changed_at=end,
            ended_at=end,
        )
        session.add(leg)
        await session.flush()
        at = start + timedelta(seconds=rng.uniform(3, 40))
        connected = at
        if rng.random() < FIRST_DIAL_FAILS:
            cause = failure_cause(rng)
            failed_at = at + timedelta(seconds=rng.uniform(2, 30))
            _attempt(session, leg, "launch", at, None, failed_at, FAILED_STATUS[cause], cause)
            incident = Incident(
                leg_id=leg.id,
                conference_id=conference.id,
                site_id=site.id,
                kind="failed",
                cause=cause,
                began_at=failed_at,
                recovery_deadline=failed_at + window,
                contacts_notified=0,
            )
            session.add(incident)
            await session.flush()
            connected = failed_at + timedelta(seconds=rng.uniform(10, 200))
            _event(
                session, incident, failed_at, "failed", f"call failed: SIP {FAILED_STATUS[cause]}"
            )
            _event(session, incident, failed_at + timedelta(seconds=10), "redial", "redial 1")
            _event(session, incident, connected, "restored", "video reconnected")
            incident.restored_at = incident.closed_at = connected
            _attempt(session, leg, "redial", connected, connected, None, 200, "ok")
        else:
            _attempt(session, leg, "launch", at, connected, None, 200, "ok")
        leg.first_connected_at = connected
        firsts.append(connected)
        segments = [(connected, "launch")]
        if rng.random() < LEG_DROPS:
            drop = connected + (end - connected) * rng.uniform(0.2, 0.8)
            down = timedelta(seconds=rng.choice([8, 15, 40, 90, 200, 420]))
            back = min(drop + down, end - timedelta(seconds=30))
            if back > drop:
                records += _record(session, conference, leg, connected, drop, "no_media")
                incident = Incident(
                    leg_id=leg.id,
                    conference_id=conference.id,
                    site_id=site.id,
                    kind="dropped",
                    cause="network",
                    began_at=drop,
                    recovery_deadline=drop + window,
                    contacts_notified=0,
                )
                session.add(incident)
                await session.flush()
                _event(session, incident, drop, "dropped", "no media from the site; cause network")
                _event(session, incident, drop, "redial", "redial 1")
                if back - drop > window and site.audio_uri:
                    incident.audio_fallback_at = drop + window
                    _event(
                        session, incident, drop + window, "audio_fallback_dialed", site.audio_uri
                    )
                    audio = Leg(
                        conference_id=conference.id,
                        site_id=site.id,
                        bridge_id=conference.bridge_id,
                        kind="audio",
                        parent_leg_id=leg.id,
                        origin="audio_fallback",
                        sip_uri=site.audio_uri,
                        audio_uri=None,
                        speed_kbps=AUDIO_SPEED_KBPS,
                        state=LegState.ENDED,
                        redials=1,
                        created_at=drop + window,
                        first_connected_at=drop + window + timedelta(seconds=4),
                        state_changed_at=back,
                        ended_at=back,
                    )
                    session.add(audio)
                    await session.flush()
                    audio_at = drop + window + timedelta(seconds=4)
                    _attempt(
                        session, audio, "audio_fallback", drop + window, audio_at, back, 200, "ok"
                    )
                    records += _record(session, conference, audio, audio_at, back, "hangup")
                incident.restored_at = incident.closed_at = back
                _event(session, incident, back, "restored", "video reconnected")
                _attempt(session, leg, "redial", back, back, None, 200, "ok")
                segments = [(back, "redial")]
        records += _record(session, conference, leg, segments[0][0], end, "hangup")
    launch.all_connected_at = max(firsts) if firsts else None
    launch.on_time = bool(firsts) and max(firsts) <= start + timedelta(minutes=2)
    await session.flush()
    return records


def _attempt(
    session: AsyncSession,
    leg: Leg,
    purpose: str,
    requested: datetime,
    connected: datetime | None,
    ended: datetime | None,
    status: int,
    cause: str,
) -> None:
    session.add(
        LegAttempt(
            leg_id=leg.id,
            conference_id=leg.conference_id,
            site_id=leg.site_id,
            dial_id=None,
            purpose=purpose,
            requested_at=requested,
            connected_at=connected,
            ended_at=ended or leg.ended_at,
            final_status=status,
            cause=cause,
            end_reason=None if connected else "failed",
        )
    )


def _event(session: AsyncSession, incident: Incident, at: datetime, kind: str, detail: str) -> None:
    session.add(IncidentEvent(incident_id=incident.id, at=at, kind=kind, detail=detail))


def _record(
    session: AsyncSession,
    conference: ConferenceRef,
    leg: Leg,
    connected: datetime,
    disconnected: datetime,
    cause: str,
) -> int:
    if disconnected <= connected:
        return 0
    session.add(
        CallRecord(
            conference_id=conference.id,
            conference_number=conference.number,
            customer_id=conference.customer_id,
            site_id=leg.site_id,
            bridge_id=leg.bridge_id,
            leg_id=leg.id,
            connected_at=connected,
            disconnected_at=disconnected,
            speed_kbps=leg.speed_kbps,
            disconnect_cause=cause,
            source="bridge",
            created_at=disconnected,
        )
    )
    return 1
