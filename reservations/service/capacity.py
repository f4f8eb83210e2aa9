"""Bridge capacity: scheduled conferences stay within `ports - reserve`; ad hoc ones never fail.

Capacity is counted in legs (one port per site) at the busiest instant across all bridges.
On PostgreSQL, bookings that overlap in time serialize on advisory locks over the hours they
touch (taken in ascending order, so they cannot deadlock); bookings at other times do not
wait for each other. SQLite's write lock serializes every booking anyway.
"""

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bridgedesk.errors import Conflict
from reservations.models import Bridge, Conference, SiteHold
from reservations.service.registry import list_bridges

_CAPACITY_LOCK_SPACE = 727003
_HOUR = 3600


class CapacityExceeded(Conflict):
    message = "Not enough bridge capacity at that time (bridge capacity)."


@dataclass(frozen=True)
class Peak:
    instant: datetime
    legs: int


@dataclass(frozen=True)
class Placement:
    bridge_id: int | None
    overflow: bool = False


def _hours(intervals: Iterable[tuple[datetime, datetime]]) -> list[int]:
    hours: set[int] = set()
    for start, end in intervals:
        first = int(start.timestamp()) // _HOUR
        last = (int(end.timestamp()) - 1) // _HOUR
        hours.update(range(first, last + 1))
    return sorted(hours)


async def lock_time(session: AsyncSession, intervals: Iterable[tuple[datetime, datetime]]) -> None:
    """Serialize with every other booking that touches the same hours (PostgreSQL only)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    hours = _hours(intervals)
    if hours:
        await session.execute(
            text(
                "SELECT pg_advisory_xact_lock(:space, h) FROM unnest(CAST(:hours AS int[])) AS h "
                "ORDER BY h"
            ),
            {"space": _CAPACITY_LOCK_SPACE, "hours": hours},
        )


@dataclass(frozen=True)
class Leg:
    """One site's port over a span (clipped to the span being checked)."""

    start: datetime
    end: datetime
    adhoc: bool


async def legs_by_bridge(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    *,
    excluding: Collection[int] = (),
) -> dict[int | None, list[Leg]]:
    """Each held leg overlapping [start, end), clipped to it, grouped by bridge."""
    query = (
        select(Conference.bridge_id, Conference.adhoc, SiteHold.starts_at, SiteHold.ends_at)
        .join(Conference, Conference.id == SiteHold.conference_id)
        .where(SiteHold.held.is_(True), SiteHold.starts_at < end, SiteHold.ends_at > start)
    )
    if excluding:
        query = query.where(Conference.id.not_in(list(excluding)))
    grouped: dict[int | None, list[Leg]] = {}
    for bridge_id, adhoc, leg_start, leg_end in (await session.execute(query)).all():
        grouped.setdefault(bridge_id, []).append(
            Leg(max(leg_start, start), min(leg_end, end), adhoc)
        )
    return grouped


def peak(legs: Iterable[Leg], start: datetime, *, adhoc_allowance: int = 0) -> Peak:
    """The instant where the most ports are taken (the first such instant), by a sweep.

    Ad hoc legs count only beyond `adhoc_allowance`: the reserve is theirs, so scheduled
    bookings compete with them only for what they take past it.
    """
    events = sorted(
        [(leg.start, 1, leg.adhoc) for leg in legs] + [(leg.end, -1, leg.adhoc) for leg in legs],
        key=lambda event: (event[0], event[1]),
    )
    scheduled = adhoc = best = 0
    best_at = start
    for instant, change, is_adhoc in events:
        if is_adhoc:
            adhoc += change
        else:
            scheduled += change
        taken = scheduled + max(0, adhoc - adhoc_allowance)
        if taken > best:
            best, best_at = taken, instant
    return Peak(best_at, best)


async def place_scheduled(
    session: AsyncSession,
    intervals: Sequence[tuple[datetime, datetime]],
    new_legs: int,
    *,
    excluding: Collection[int] = (),
) -> Placement:
    """The bridge for a scheduled booking, or CapacityExceeded naming the busiest instant.

    Scheduled legs may use `ports - reserve`; ad hoc conferences that spilled past the
    reserve take from that too. With no bridges registered the provider runs no bridge of
    its own here (e.g. an external MCU), so there is no port count to enforce.
    """
    all_bridges = await list_bridges(session)
    if not all_bridges:
        return Placement(None)
    await lock_time(session, intervals)
    reserve = sum(b.adhoc_reserve for b in all_bridges)
    limit = sum(b.ports for b in all_bridges) - reserve
    chosen: int | None = None
    for start, end in intervals:
        grouped = await legs_by_bridge(session, start, end, excluding=excluding)
        legs = [leg for bridge_legs in grouped.values() for leg in bridge_legs]
        busiest = peak(legs, start, adhoc_allowance=reserve)
        if busiest.legs + new_legs > limit:
            at = busiest.instant.astimezone(UTC)
            raise CapacityExceeded(
                f"Not enough bridge capacity (bridge capacity): at {at:%Y-%m-%d %H:%M} UTC "
                f"{busiest.legs} of {limit} scheduled ports are in use and this booking "
                f"needs {new_legs} more.",
                reason="bridge capacity",
                busiest_instant=at.isoformat(),
                ports_in_use=busiest.legs,
                ports_available=limit - busiest.legs,
                ports_limit=limit,
            )
        if chosen is None:
            chosen = _least_loaded(all_bridges, grouped, start, scheduled=True)
    return Placement(chosen)


async def place_adhoc(
    session: AsyncSession, start: datetime, end: datetime, new_legs: int
) -> Placement:
    """Ad hoc conferences take the reserve (and any idle port); beyond all ports, overflow."""
    all_bridges = await list_bridges(session)
    if not all_bridges:
        return Placement(None)
    await lock_time(session, [(start, end)])
    grouped = await legs_by_bridge(session, start, end)
    busiest = peak([leg for legs in grouped.values() for leg in legs], start)
    total = sum(b.ports for b in all_bridges)
    return Placement(
        _least_loaded(all_bridges, grouped, start, scheduled=False),
        overflow=busiest.legs + new_legs > total,
    )


def _least_loaded(
    all_bridges: Sequence[Bridge],
    grouped: dict[int | None, list[Leg]],
    start: datetime,
    *,
    scheduled: bool,
) -> int:
    def spare(bridge: Bridge) -> int:
        legs = grouped.get(bridge.id, [])
        if scheduled:
            taken = peak(legs, start, adhoc_allowance=bridge.adhoc_reserve).legs
            return bridge.ports - bridge.adhoc_reserve - taken
        return bridge.ports - peak(legs, start).legs

    return max(all_bridges, key=lambda b: (spare(b), -b.id)).id
