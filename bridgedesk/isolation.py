"""Isolation of scheduled work: every item a job processes (a conference, a ticket, a month, a
document...) runs in its own savepoint or its own unit of work, so one that raises is logged
with the row it names and skipped while the rest go on; a unit that meets a locked database is
run again with backoff. Jobs stay idempotent, so running a unit again is harmless."""

import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from bridgedesk.db import retry_on_lock_async, unit_of_work

log = logging.getLogger("bridgedesk.jobs")
T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Skipped:
    """An item whose work raised: rolled back, logged, left for the next run."""

    job: str
    item: str
    cause: str


def _skip(job: str, item: str, error: Exception) -> Skipped:
    cause = f"{type(error).__name__}: {error}"
    log.error("%s: %s failed and was skipped: %s", job, item, cause, exc_info=error)
    return Skipped(job, item, cause)


async def in_unit(job: str, work: Callable[[AsyncSession], Awaitable[R]]) -> R:
    """`work` in a unit of work of its own, started again while the database is locked."""

    async def attempt() -> R:
        async with unit_of_work() as session:
            return await work(session)

    return await retry_on_lock_async(attempt, what=job)


async def each_in_savepoint(
    session: AsyncSession,
    items: Iterable[T],
    work: Callable[[T], Awaitable[object]],
    *,
    job: str,
    name: Callable[[T], str],
) -> list[Skipped]:
    """`work(item)` for each item inside a savepoint of `session`: an item that raises is
    rolled back alone (what the others did stays), logged under `name(item)`, and skipped."""
    skipped: list[Skipped] = []
    for item in items:
        label = name(item)  # read before the work: a rolled-back row cannot be read after
        try:
            async with session.begin_nested():
                await work(item)
        except Exception as error:
            skipped.append(_skip(job, label, error))
    return skipped


async def each_in_own_unit(
    items: Iterable[T],
    work: Callable[[AsyncSession, T], Awaitable[R]],
    *,
    job: str,
    name: Callable[[T], str],
) -> tuple[list[R], list[Skipped]]:
    """`work(session, item)` for each item in a unit of work of its own (see `in_unit`); an item
    that raises is logged under `name(item)` and skipped. Returns the results and the skips."""
    done: list[R] = []
    skipped: list[Skipped] = []
    for item in items:
        label = name(item)

        async def one(session: AsyncSession, item: T = item) -> R:
            return await work(session, item)

        try:
            done.append(await in_unit(f"{job} {label}", one))
        except Exception as error:
            skipped.append(_skip(job, label, error))
    return done, skipped
