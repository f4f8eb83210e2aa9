"""Launching: a conference's launch row and one video leg per held site, dialed at its start
(and legs for sites added to a running conference)."""

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bridge.models import Launch, Leg
from bridge.service.bookings import ConferenceRef, SiteRef
from bridge.service.leg_states import VIDEO, LegState, RecoveryPolicy, busy_elsewhere, dial_leg

log = logging.getLogger(__name__)


def held_site_ids(conferences: Iterable[ConferenceRef]) -> set[int]:
    """The sites the conferences hold: the ones whose bookings a launch needs."""
    return {held.site_id for conference in conferences for held in conference.sites}


async def launch_conference(
    session: AsyncSession, conference: ConferenceRef, sites: dict[int, SiteRef], *, now: datetime
) -> Launch | None:
    """Create the conference's launch and dial each held site; None if already launched."""
    launch = Launch(
        conference_id=conference.id,
        bridge_id=conference.bridge_id,
        scheduled_start=conference.starts_at,
        scheduled_end=conference.ends_at,
        launched_at=now,
    )
    try:
        async with session.begin_nested():
            session.add(launch)
            await session.flush()
    except IntegrityError:
        return None  # another scheduler launched it first
    origin = "adhoc" if conference.adhoc else "launch"
    for held in conference.sites:
        if not held.held:
            continue
        site = sites.get(held.site_id)
        if site is None:  # vanished from the registry: nothing to dial, nothing else waits
            log.warning("conference %s: site %s is gone; not dialed", conference.id, held.site_id)
            continue
        await _isolated_leg(session, conference, site, held.speed_kbps, origin, now=now)
    return launch


async def _isolated_leg(
    session: AsyncSession,
    conference: ConferenceRef,
    site: SiteRef,
    speed_kbps: int,
    origin: str,
    *,
    now: datetime,
) -> None:
    """One site's leg in its own savepoint: a site whose leg cannot be made is logged, and
    the conference's other sites are dialed all the same."""
    try:
        async with session.begin_nested():
            await _new_video_leg(session, conference, site, speed_kbps, origin, now=now)
    except Exception:
        log.exception("conference %s: the leg of site %s failed", conference.id, site.id)


async def add_missing_legs(
    session: AsyncSession, conference: ConferenceRef, sites: dict[int, SiteRef], *, now: datetime
) -> int:
    """Sites added to a launched, running conference get their leg (SPEC §3, 5 min per site)."""
    launch = await session.scalar(
        select(Launch).where(Launch.conference_id == conference.id).with_for_update()
    )
    if launch is None or launch.ended_at is not None:
        return 0
    have = set(
        await session.scalars(
            select(Leg.site_id).where(Leg.conference_id == conference.id, Leg.kind == VIDEO)
        )
    )
    added = 0
    for held in conference.sites:
        site = sites.get(held.site_id)
        if held.held and held.site_id not in have and site is not None:
            await _isolated_leg(session, conference, site, held.speed_kbps, "add_site", now=now)
            added += 1
    return added


async def _new_video_leg(
    session: AsyncSession,
    conference: ConferenceRef,
    site: SiteRef,
    speed_kbps: int,
    origin: str,
    *,
    now: datetime,
) -> Leg:
    leg = Leg(
        conference_id=conference.id,
        site_id=site.id,
        bridge_id=conference.bridge_id,
        kind=VIDEO,
        origin=origin,
        sip_uri=site.sip_uri,
        audio_uri=site.audio_uri,
        speed_kbps=speed_kbps,
        state=LegState.DIALING,
        redials=0,
        created_at=now,
        state_changed_at=now,
        next_dial_at=now,
    )
    session.add(leg)
    await session.flush()
    if await busy_elsewhere(session, leg):
        # Still in a meeting that runs over (never cut): dialed once that one lets it go.
        leg.next_dial_at = now + RecoveryPolicy.from_settings().backoff_initial
        return leg
    await dial_leg(session, leg, origin, now=now)
    return leg


async def open_launches(session: AsyncSession) -> Sequence[Launch]:
    return (
        await session.scalars(select(Launch).where(Launch.ended_at.is_(None)).order_by(Launch.id))
    ).all()


async def launched_ids(session: AsyncSession, conference_ids: Sequence[int]) -> set[int]:
    if not conference_ids:
        return set()
    return set(
        await session.scalars(
            select(Launch.conference_id).where(Launch.conference_id.in_(list(conference_ids)))
        )
    )
