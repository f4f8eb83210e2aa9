"""Reservations' scheduled work, each run in its own unit of work and safe to run twice."""

from bridgedesk.db import unit_of_work
from reservations.service.confirmation import flag_overdue_confirmations


async def flag_overdue_confirmations_job() -> int:
    """Bookings past their confirmation deadline are flagged and operators told, once each."""
    async with unit_of_work() as session:
        return await flag_overdue_confirmations(session)
