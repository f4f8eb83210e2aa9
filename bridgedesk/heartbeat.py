"""The worker's heartbeat: written by the worker while its scheduler runs, read by `/healthz`
and the operators' pages, so a dead worker is reported instead of going unnoticed."""

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bridgedesk.clock import utcnow
from bridgedesk.models import WorkerHeartbeat
from bridgedesk.settings import get_settings

SCHEDULER = "scheduler"
STANDBY = "standby"
# Rows of workers that stopped beating this long ago are deleted by the next beat.
FORGET_AFTER = timedelta(days=1)


def this_worker() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:200]


async def beat(session: AsyncSession, *, worker: str, role: str, started_at: datetime) -> None:
    """Record that `worker` is alive in `role` now."""
    now = utcnow()
    row = await session.get(WorkerHeartbeat, worker)
    if row is None:
        session.add(WorkerHeartbeat(worker=worker, role=role, started_at=started_at, last_beat=now))
    else:
        row.role = role
        row.last_beat = now
    await session.execute(
        delete(WorkerHeartbeat).where(WorkerHeartbeat.last_beat < now - FORGET_AFTER)
    )
    await session.flush()


@dataclass(frozen=True)
class WorkerState:
    """The scheduler's newest heartbeat and whether it is recent enough to call it running."""

    last_heartbeat: datetime | None
    ok: bool


async def worker_state(session: AsyncSession) -> WorkerState:
    last = await session.scalar(
        select(func.max(WorkerHeartbeat.last_beat)).where(WorkerHeartbeat.role == SCHEDULER)
    )
    stale = timedelta(seconds=get_settings().worker_heartbeat_stale_seconds)
    return WorkerState(last_heartbeat=last, ok=last is not None and utcnow() - last <= stale)
