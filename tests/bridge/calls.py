"""Playing the SIP engine's part in call-handling tests: dial rows moved by hand, jobs run
at chosen instants."""

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bridge.models import Dial, Incident, Leg
from bridgedesk.auth import actor_of
from bridgedesk.clock import utcnow
from bridgedesk.models import User
from reservations.service import booking


async def dial_of(db: AsyncSession, leg: Leg) -> Dial:
    await db.refresh(leg)
    assert leg.dial_id is not None, f"leg {leg.id} ({leg.state}) has no dial in flight"
    dial = await db.get(Dial, leg.dial_id)
    assert dial is not None
    await db.refresh(dial)
    return dial


async def connect(db: AsyncSession, leg: Leg, at: datetime) -> Dial:
    dial = await dial_of(db, leg)
    dial.status, dial.dialed_at, dial.connected_at = "connected", at, at
    dial.final_status, dial.cause, dial.updated_at = 200, "ok", at
    await db.flush()
    return dial


async def end(
    db: AsyncSession,
    leg: Leg,
    at: datetime,
    reason: str,
    *,
    final_status: int | None = None,
    cause: str | None = None,
) -> Dial:
    dial = await dial_of(db, leg)
    dial.status, dial.ended_at, dial.end_reason, dial.updated_at = "ended", at, reason, at
    if final_status is not None:
        dial.final_status = final_status
    if cause is not None:
        dial.cause = cause
    await db.flush()
    return dial


async def legs_of(db: AsyncSession, conference_id: int) -> list[Leg]:
    rows = (
        await db.scalars(select(Leg).where(Leg.conference_id == conference_id).order_by(Leg.id))
    ).all()
    for leg in rows:
        await db.refresh(leg)
    return list(rows)


def _yesterday() -> datetime:
    return (utcnow() - timedelta(days=1)).replace(minute=0, second=0, microsecond=0)


async def held_conference(db: AsyncSession, admin: User, customer_id: int, site_id: int) -> str:
    """A conference of the site recorded as held yesterday; its number."""
    start = _yesterday()
    conference = await booking.book(
        db,
        booking.BookingRequest(
            customer_id=customer_id,
            title="Held elsewhere",
            leader_name="Lee",
            start=start,
            end=start + timedelta(hours=1),
            sites=[booking.SiteRequest(site_id)],
            record=True,
        ),
        by=actor_of(admin),
    )
    return conference.number or ""


def yesterday_record(number: str, site_id: int) -> dict[str, object]:
    start = _yesterday()
    return {
        "conference_number": number,
        "site_id": site_id,
        "connected_at": (start + timedelta(minutes=1)).isoformat(),
        "disconnected_at": (start + timedelta(minutes=59)).isoformat(),
        "speed_kbps": 768,
    }


async def dropped_past_window(db: AsyncSession, leg: Leg, now: datetime) -> Incident:
    """The leg's site dropped 6 minutes before `now` for a network cause; its recovery window
    ended a minute ago, when it fell back to audio. No contact told yet."""
    incident = Incident(
        leg_id=leg.id,
        conference_id=leg.conference_id,
        site_id=leg.site_id,
        kind="dropped",
        cause="network",
        began_at=now - timedelta(minutes=6),
        recovery_deadline=now - timedelta(minutes=1),
        audio_fallback_at=now - timedelta(minutes=1),
        contacts_notified=0,
    )
    db.add(incident)
    await db.flush()
    leg.incident_id = incident.id
    return incident


async def incident_with_procedure(db: AsyncSession, conference_id: int, site_id: int) -> int:
    """A site of the conference down past its window, its procedure opened: the incident id."""
    from bridge.service import procedure
    from bridge.service.bookings import Contact, SiteRef

    now = utcnow()
    leg = Leg(
        conference_id=conference_id,
        site_id=site_id,
        kind="video",
        origin="launch",
        sip_uri="sip:room@127.0.0.1",
        speed_kbps=768,
        state="audio_fallback",
        redials=3,
        created_at=now - timedelta(minutes=10),
        state_changed_at=now,
    )
    db.add(leg)
    await db.flush()
    incident = await dropped_past_window(db, leg, now)
    site = SiteRef(
        site_id, 0, "Room", "sip:room@127.0.0.1", None, 768, (Contact("Tess", "t@x.example"),)
    )
    await procedure.open_procedure(
        db, incident, site=site, conference=None, sites={site_id: site}, now=now
    )
    return incident.id
