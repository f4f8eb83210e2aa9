"""The demo's past month of calls: conferences recorded as held (reservations) with the call
history the bridge would have written for them (launches, legs, drops, call records)."""

import random
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bridge.service import bookings
from bridge.service.history import record_history
from bridgedesk.clock import utcnow
from bridgedesk.identity import Actor
from reservations.models import Customer, Site
from reservations.service import booking

# (customer index, title, site indexes, UTC hour, minutes), held every other day.
PAST_MEETINGS = (
    (0, "Daily stand-up", (0, 1), 14, 30),
    (0, "Partner sync", (0, 2, 3), 16, 60),
    (1, "Harbour briefing", (4, 5), 21, 45),
)
DAYS_BACK = 35


async def load_call_history(
    session: AsyncSession,
    customers: Sequence[Customer],
    sites: Sequence[Site],
    *,
    by: Actor,
    seed: int = 2026,
) -> int:
    """Book the past meetings as recorded (held) conferences and write their calls;
    returns the number of call detail records written."""
    rng = random.Random(seed)
    today = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    records = 0
    for days in range(DAYS_BACK, 0, -1):
        day = today - timedelta(days=days)
        for index, (customer, title, site_indexes, hour, minutes) in enumerate(PAST_MEETINGS):
            if (days + index) % 2:
                continue
            start = day + timedelta(hours=hour)
            conference = await booking.book(
                session,
                booking.BookingRequest(
                    customer_id=customers[customer].id,
                    title=title,
                    leader_name="Dana Leader",
                    start=start,
                    end=start + timedelta(minutes=minutes),
                    sites=[booking.SiteRequest(sites[i].id) for i in site_indexes],
                    project_code="PRJ-100",
                    record=True,
                ),
                by=by,
            )
            [ref] = (await bookings.conferences(session, [conference.id])).values()
            refs = await bookings.sites(session, [sites[i].id for i in site_indexes])
            records += await record_history(session, ref, refs, rng=rng)
    return records
