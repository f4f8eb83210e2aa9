"""Reservations' scheduled work, each run in its own unit of work and safe to run twice; the
services isolate each conference (bridgedesk.isolation)."""

from datetime import timedelta

from bridgedesk import isolation
from reservations.service.confirmation import flag_overdue_confirmations
from reservations.service.live import extend_running_overruns

# Extend a live conference this long before its scheduled end, so it is never cut.
OVERRUN_LEAD = timedelta(minutes=5)


async def flag_overdue_confirmations_job() -> int:
    """Bookings past their confirmation deadline are flagged and operators told, once each."""
    return await isolation.in_unit("flag_overdue_confirmations", flag_overdue_confirmations)


async def extend_overruns_job() -> int:
    """Live conferences within 5 minutes of their end get 15 more: never cut at the end."""
    return await isolation.in_unit(
        "extend_overruns", lambda session: extend_running_overruns(session, lead=OVERRUN_LEAD)
    )
