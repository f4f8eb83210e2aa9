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


async def bridges(session: AsyncSession) -> Sequence[Bridge]:
    return (await session.scalars(select(Bridge).order_by(Bridge.id))).all()


async def legs_by_bridge(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    *,
    scheduled_only: bool,
    excluding: Collection[int] = (),
) -> dict[int | None, list[tuple[datetime, datetime]]]:
    """Each held leg overlapping [start, end), clipped to it, grouped by bridge."""
    query = (
        select(Conference.bridge_id, SiteHold.starts_at, SiteHold.ends_at)
        .join(Conference, Conference.id == SiteHold.conference_id)
        .where(SiteHold.held.is_(True), SiteHold.starts_at < end, SiteHold.ends_at > start)
    )
    if scheduled_only:
        query = query.where(Conference.adhoc.is_(False))
    if excluding:
        query = query.where(Conference.id.not_in(list(excluding)))
    grouped: dict[int | None, list[tuple[datetime, datetime]]] = {}
    for bridge_id, leg_start, leg_end in (await session.execute(query)).all():
        grouped.setdefault(bridge_id, []).append((max(leg_start, start), min(leg_end, end)))
    return grouped


def peak(legs: Iterable[tuple[datetime, datetime]], start: datetime) -> Peak:
    """The instant with the most legs at once (the first such instant), by a sweep."""
    events = sorted(
        [(s, 1) for s, _ in legs] + [(e, -1) for _, e in legs], key=lambda ev: (ev[0], ev[1])
    )
    current = best = 0
    best_at = start
    for instant, change in events:
        current += change
        if current > best:
            best, best_at = current, instant
    return Peak(best_at, best)


async def place_scheduled(
    session: AsyncSession,
    intervals: Sequence[tuple[datetime, datetime]],
    new_legs: int,
    *,
    excluding: Collection[int] = (),
) -> Placement:
    """The bridge for a scheduled booking, or CapacityExceeded naming the busiest instant.

    With no bridges registered the provider runs no bridge of its own here (e.g. an external
    MCU), so there is no port count to enforce.
    """
    all_bridges = await bridges(session)
    if not all_bridges:
        return Placement(None)
    await lock_time(session, intervals)
    limit = sum(b.ports - b.adhoc_reserve for b in all_bridges)
    chosen: int | None = None
    for start, end in intervals:
        grouped = await legs_by_bridge(
            session, start, end, scheduled_only=True, excluding=excluding
        )
        busiest = peak([leg for legs in grouped.values() for leg in legs], start)
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
            chosen = _least_loaded(all_bridges, grouped, start, reserve_counts=False)
    return Placement(chosen)


async def place_adhoc(
    session: AsyncSession, start: datetime, end: datetime, new_legs: int
) -> Placement:
    """Ad hoc conferences take the reserve (and any idle port); beyond all ports, overflow."""
    all_bridges = await bridges(session)
    if not all_bridges:
        return Placement(None)
    await lock_time(session, [(start, end)])
    grouped = await legs_by_bridge(session, start, end, scheduled_only=False)
    busiest = peak([leg for legs in grouped.values() for leg in legs], start)
    total = sum(b.ports for b in all_bridges)
    return Placement(
        _least_loaded(all_bridges, grouped, start, reserve_counts=True),
        overflow=busiest.legs + new_legs > total,
    )


def _least_loaded(
    all_bridges: Sequence[Bridge],
    grouped: dict[int | None, list[tuple[datetime, datetime]]],
    start: datetime,
    *,
    reserve_counts: bool,
) -> int:
    def spare(bridge: Bridge) -> int:
        ports = bridge.ports if reserve_counts else bridge.ports - bridge.adhoc_reserve
        return ports - peak(grouped.get(bridge.id, []), start).legs

    return max(all_bridges, key=lambda b: (spare(b), -b.id)).id
