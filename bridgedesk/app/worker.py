"""The `worker` process: the scheduler, run by one elected leader among all worker hosts,
and the supervised SIP engine processes, run on every worker host.

Jobs are persisted in the database (APScheduler's SQLAlchemy job store) so a restarted
worker knows when each last ran; every job is idempotent, so a catch-up run is harmless.
The scheduler runs in its own thread and the jobs on this process's event loop
(bridgedesk.scheduling says why); while it lives, the worker writes a heartbeat every few
seconds, and when it dies the worker exits with status 3 to be restarted.
The SIP processes take their work from the database too, so hosts share one PostgreSQL.
"""

import asyncio
import contextlib
import fcntl
import logging
import os
import signal
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.engine import make_url

from bridge.engine.supervisor import Supervisor
from bridgedesk import heartbeat, isolation
from bridgedesk.app.jobs import run_all_once, scheduled_jobs
from bridgedesk.clock import utcnow
from bridgedesk.db import database, is_sqlite, sync_engine_for
from bridgedesk.migrate import upgrade
from bridgedesk.scheduling import GuardedScheduler, RetryingJobStore, SchedulerDied
from bridgedesk.settings import get_settings

log = logging.getLogger("bridgedesk.app.worker")
SCHEDULER_LOCK_KEY = 727002
JOB_TABLE = "bridgedesk_scheduled_jobs"
# On stop, running jobs get this long to finish before they are cancelled.
SHUTDOWN_GRACE_SECONDS = 30


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
    engine = sync_engine_for(url)
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
        task.result()  # a dead scheduler (SchedulerDied) ends the worker, non-zero
        return
    if not leading.is_set():  # still waiting for the lock: nothing to shut down
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


# The running scheduler, for `run_scheduled_job` (the job store keeps a function by name).
_scheduler: GuardedScheduler | None = None


def run_scheduled_job(name: str) -> int:
    """What the scheduler's thread pool calls: the job of that name, run on the worker's loop."""
    assert _scheduler is not None, "no scheduler is running"
    job = {job.name: job for job in scheduled_jobs()}[name]
    return _scheduler.run_on_loop(job.run)


async def _lead_and_schedule(stop: asyncio.Event, leading: asyncio.Event, url: str) -> None:
    global _scheduler
    async with leadership(url):
        leading.set()
        log.info("worker %s is the scheduler", os.getpid())
        jobs = scheduled_jobs()
        scheduler = GuardedScheduler(
            asyncio.get_running_loop(),
            jobstores={
                "default": RetryingJobStore(engine=sync_engine_for(url), tablename=JOB_TABLE)
            },
            executors={"default": ThreadPoolExecutor(len(jobs))},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
        )
        for job in jobs:
            scheduler.add_job(
                run_scheduled_job,
                IntervalTrigger(seconds=job.every_seconds),
                args=[job.name],
                id=job.name,
                name=job.purpose,
                replace_existing=True,
            )
        _scheduler = scheduler
        try:
            # Off the loop: starting writes the job table, which may wait for the write lock.
            await asyncio.to_thread(scheduler.start)
            await _beat_while_alive(scheduler, stop)
        finally:
            scheduler.stopping = True
            if scheduler.running:
                # Off the loop too: running jobs finish on the loop while it waits for them.
                shutdown = asyncio.to_thread(scheduler.shutdown, True)
                try:
                    await asyncio.wait_for(shutdown, SHUTDOWN_GRACE_SECONDS)
                except TimeoutError:
                    scheduler.cancel_running_jobs()
            _scheduler = None


async def _beat_while_alive(scheduler: GuardedScheduler, stop: asyncio.Event) -> None:
    """Write the heartbeat every few seconds while the scheduler lives; raise `SchedulerDied`
    the moment it does not, so the process exits non-zero and is restarted."""
    settings = get_settings()
    worker, started_at = heartbeat.this_worker(), utcnow()

    beat = partial(heartbeat.beat, worker=worker, role=heartbeat.SCHEDULER, started_at=started_at)
    while not stop.is_set():
        scheduler.check()
        try:
            await isolation.in_unit("worker heartbeat", beat)
        except Exception:  # reported by its absence: /healthz calls the worker down
            log.exception("worker heartbeat not written")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                _first(stop.wait(), scheduler.died.wait()), settings.worker_heartbeat_seconds
            )
    scheduler.check()


async def _first(*waits: Coroutine[Any, Any, object]) -> None:
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


# The exit status of a worker whose scheduler died: whatever runs it must start it again.
SCHEDULER_DIED_EXIT = 3


def run_worker(*, once: bool = False, scheduler: bool = True, sip: bool = True) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    upgrade(get_settings().database_url)
    if once:
        print(asyncio.run(_once()))
        return 0
    try:
        asyncio.run(_run_forever(scheduler_on=scheduler, sip_on=sip))
    except SchedulerDied as death:
        log.critical("the scheduler died (%s): the worker exits to be restarted", death)
        logging.shutdown()
        # Not a normal exit: a pool thread stuck in a dead scheduler must not keep alive a
        # process that has to be restarted.
        os._exit(SCHEDULER_DIED_EXIT)
    return 0


async def _once() -> dict[str, int]:
    try:
        return await run_all_once()
    finally:
        await database.dispose()
