"""The bridge's scheduled work: conference launch and leg supervision, run every few seconds
from the app's job table. What is booked is read from reservations' service."""

import logging
from datetime import timedelta

from bridge.service import bookings, launching, leg_states, recovery
from bridgedesk.clock import utcnow
from bridgedesk.db import unit_of_work
from bridgedesk.settings import get_settings
from reservations.service import live, queries

log = logging.getLogger(__name__)


async def launch_due_conferences_job() -> int:
    """Dial every site of each conference whose start has come (SPEC §5 launch).

    Confirmed and ad hoc conferences, and requested ones too: a booking the desk has not
    confirmed in time still meets at its time. Each conference is launched once (a unique
    launch row), so a second scheduler or a second run dials nothing twice; a launch missed
    while the worker was down happens at the next run, as long as the conference has not ended.
    """
    settings = get_settings()
    launched = 0
    async with unit_of_work() as session:
        now = utcnow()
        due = await queries.due_for_launch(
            session, now, until=now + timedelta(seconds=settings.launch_lead_seconds)
        )
        launched_before = await launching.launched_ids(session, due)
        fresh = [i for i in due if i not in launched_before]
        conferences = await bookings.conferences(session, fresh)
        sites = await bookings.sites(session, launching.held_site_ids(conferences.values()))
        for conference in conferences.values():
            # Each conference in its own savepoint: one that cannot be launched is logged
            # and retried next run; the others are dialed now.
            try:
                async with session.begin_nested():
                    if await launching.launch_conference(session, conference, sites, now=now):
                        await live.mark_live(session, conference.id)
                        launched += 1
            except Exception:
                log.exception("conference %s (%s): launch failed", conference.id, conference.number)
    return launched


async def supervise_legs_job() -> int:
    """Follow every leg's dial: connections, drops, redials, audio links, contact chains,
    call detail records; dial sites added to running conferences; end conferences whose
    last site has left after their scheduled end (never cut one while a site is connected)."""
    async with unit_of_work() as session:
        now = utcnow()
        changes = 0
        open_launches = await launching.open_launches(session)
        conferences = await bookings.conferences(
            session, [launch.conference_id for launch in open_launches]
        )
        running = [c for c in conferences.values() if c.status == "live"]
        if running:
            sites = await bookings.sites(session, launching.held_site_ids(running))
            for conference in running:
                try:
                    async with session.begin_nested():
                        changes += await launching.add_missing_legs(
                            session, conference, sites, now=now
                        )
                except Exception:
                    log.exception("conference %s: adding sites failed", conference.id)
        changes += await recovery.supervise(session, now=now)
        for launch in open_launches:
            ref = conferences.get(launch.conference_id)
            if ref is None:
                continue
            stopped = ref.status not in leg_states.RUNNING_STATUSES
            if now < launch.scheduled_end and not stopped:
                continue
            last_left = await recovery.legs_all_ended(
                session, launch.conference_id, default=launch.scheduled_end
            )
            if last_left is None:
                continue
            launch.ended_at = last_left
            if ref.status == "live":
                await live.mark_ended(session, ref.id, last_left)
            changes += 1
    return changes
