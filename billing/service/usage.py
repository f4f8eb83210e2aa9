"""What really happened: the call detail records billing rates, read through the bridge."""

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from bridge.service import cdrs

# The bridge chunks its IN lists too; this bounds how much one call holds in memory.
CHUNK = 20000


async def records_by_conference(
    session: AsyncSession, conference_ids: Sequence[int]
) -> dict[int, list[cdrs.CallRecord]]:
    """Every record of the given conferences (built-in bridge and imported), by conference."""
    found: dict[int, list[cdrs.CallRecord]] = {}
    for offset in range(0, len(conference_ids), CHUNK):
        found.update(
            await cdrs.records_by_conference(session, conference_ids[offset : offset + CHUNK])
        )
    return found
