"""The `worker` process: the scheduler, run by one elected leader among all worker hosts,
and the supervised SIP engine processes, run on every worker host.

Jobs are persisted in the database (APScheduler's SQLAlchemy job store) so a restarted
worker knows when each last ran; every job is idempotent, so a catch-up run is harmless.
The SIP processes take their work from the database too, so hosts share one PostgreSQL.
"""

import asyncio
import contextlib
import fcntl
import logging
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import create_engine, pool
from sqlalchemy.engine import make_url

from bridge.engine.supervisor import Supervisor
from bridgedesk.app.jobs import run_all_once, scheduled_jobs
from bridgedesk.db import database, is_sqlite, sync_url
from bridgedesk.migrate import upgrade
from bridgedesk.settings import get_settings

log = logging.getLogger("bridgedesk.app.worker")
SCHEDULER_LOCK_KEY = 727002
JOB_TABLE = "bridgedesk_scheduled_jobs"


@asynccontextmanager
async def leadership(url: str) -> AsyncIterator[None]:
    """Wait until this process is the one scheduler: a PostgreSQL advisory lock held on its
    own connection, or an exclusive lock file next to a SQLite database."""
    if is_sqlite(url):
        path = Path(make_url(url).database or "bridgedesk.db").with_suffix(".scheduler.lock")
        with path.open("w") as handle:
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    await asyncio.sleep(5)
            yield
        return
    engine = create_engine(sync_url(url), poolclass=pool.NullPool)
    connection = engine.connect()
    try:
        while not connection.exec_driver_sql(
            f"SELECT pg_try_advisory_lock({SCHEDULER_LOCK_KEY})"
        ).scalar():
            connection.rollback()
            await asyncio.sleep(5)
        connection.commit()
        yield
    finally:
        connection.close()
        engine.dispose()


async def _run_forever(*, scheduler_on: bool = True, sip_on: bool = True) -> None:
    settings = get_settings()
    url = settings.database_url
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    # Every worker host runs its SIP processes; only the elected leader runs the scheduler.
    engine = None
    if sip_on and settings.sip_workers > 0:
        engine = asyncio.create_task(Supervisor(settings).run(stop), name="sip-supervisor")
    try:
        if scheduler_on:
            await _schedule_until(stop, url)
        else:
            await stop.wait()
    finally:
        stop.set()
        if engine is not None:
            await engine
        await database.dispose()


async def _schedule_until(stop: asyncio.Event, url: str) -> None:
    leading = asyncio.Event()
    task = asyncio.create_task(_lead_and_schedule(stop, leading, url))
    stopped = asyncio.create_task(stop.wait())
    await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    if task.done():
        task.result()  # a failing scheduler ends the worker, as it always has
        return
    if not leading.is_set():  # still waiting for the lock: nothing to shut down
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _lead_and_schedule(stop: asyncio.Event, leading: asyncio.Event, url: str) -> None:
    async with leadership(url):
        leading.set()
        log.info("worker %s is the scheduler", os.getpid())
        scheduler = AsyncIOScheduler(
            jobstores={"default": SQLAlchemyJobStore(url=sync_url(url), tablename=JOB_TABLE)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
        )
        for job in scheduled_jobs():
            scheduler.add_job(
                job.run,
                IntervalTrigger(seconds=job.every_seconds),
                id=job.name,
                name=job.purpose,
                replace_existing=True,
            )
        scheduler.start()
        await stop.wait()
        scheduler.shutdown(wait=True)


def run_worker(*, once: bool = False, scheduler: bool = True, sip: bool = True) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    upgrade(get_settings().database_url)
    if once:
        print(asyncio.run(_once()))
        return 0
    asyncio.run(_run_forever(scheduler_on=scheduler, sip_on=sip))
    return 0


async def _once() -> dict[str, int]:
    try:
        return await run_all_once()
    finally:
        await database.dispose()
