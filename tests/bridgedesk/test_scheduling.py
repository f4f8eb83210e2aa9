"""The worker's scheduler parts on a real SQLite file: the job store waits out another
process's write lock (retrying with backoff past the busy timeout), and a store that cannot be
read marks the scheduler dead instead of leaving it idle."""

import asyncio
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.triggers.interval import IntervalTrigger

from bridgedesk import db as db_module
from bridgedesk.app.worker import JOB_TABLE
from bridgedesk.db import sync_engine_for
from bridgedesk.migrate import upgrade
from bridgedesk.scheduling import GuardedScheduler, RetryingJobStore, SchedulerDied


def tick() -> None:
    """A job for the store to keep (stored by reference)."""


@pytest.fixture
def sqlite_file(tmp_path):
    path = tmp_path / "scheduler.db"
    upgrade(f"sqlite:///{path}")
    return path


def _hold_write_lock(path, seconds: float, holding: threading.Event) -> None:
    """Another process's writer: BEGIN IMMEDIATE on its own connection, held for a while."""
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("BEGIN IMMEDIATE")
    holding.set()
    time.sleep(seconds)
    connection.execute("COMMIT")
    connection.close()


async def test_job_store_writes_retry_past_a_lock_held_longer_than_the_busy_timeout(
    sqlite_file, monkeypatch
):
    # A busy timeout far shorter than the lock is held: only the retries can save the write.
    monkeypatch.setattr(db_module, "SQLITE_BUSY_TIMEOUT_MS", 50)
    scheduler = GuardedScheduler(
        asyncio.get_running_loop(),
        jobstores={
            "default": RetryingJobStore(
                engine=sync_engine_for(f"sqlite:///{sqlite_file}"), tablename=JOB_TABLE
            )
        },
    )
    scheduler.add_job(tick, IntervalTrigger(seconds=60), id="tick")
    scheduler.start(paused=True)
    try:
        holding = threading.Event()
        holder = threading.Thread(target=_hold_write_lock, args=(sqlite_file, 1.0, holding))
        holder.start()
        holding.wait(5)
        later = datetime.now(UTC) + timedelta(hours=1)
        began = time.monotonic()
        await asyncio.to_thread(scheduler.modify_job, "tick", next_run_time=later)
        waited = time.monotonic() - began
        holder.join()
        assert waited >= 0.5  # it did wait for the other writer
        assert scheduler.get_job("tick").next_run_time == later
        assert scheduler.cause is None
    finally:
        scheduler.stopping = True
        scheduler.shutdown(wait=False)


async def test_a_store_that_cannot_be_read_kills_the_scheduler(sqlite_file):
    loop = asyncio.get_running_loop()
    scheduler = GuardedScheduler(
        loop,
        jobstores={
            "default": RetryingJobStore(
                engine=sync_engine_for(f"sqlite:///{sqlite_file}"), tablename=JOB_TABLE
            )
        },
    )
    scheduler.add_job(tick, IntervalTrigger(seconds=1), id="tick")
    scheduler.start()
    try:
        scheduler.check()  # alive
        with sqlite3.connect(sqlite_file, timeout=30) as connection:
            connection.execute(f"DROP TABLE {JOB_TABLE}")
        await asyncio.wait_for(scheduler.died.wait(), 10)
        with pytest.raises(SchedulerDied, match="no such table"):
            scheduler.check()
    finally:
        scheduler.stopping = True
        await asyncio.to_thread(scheduler.shutdown, False)


async def test_an_unexpected_shutdown_is_a_death(sqlite_file):
    scheduler = GuardedScheduler(asyncio.get_running_loop())
    scheduler.start()
    scheduler.shutdown(wait=False)  # not by the worker: nobody set `stopping`
    await asyncio.wait_for(scheduler.died.wait(), 5)
    with pytest.raises(SchedulerDied, match="shut down"):
        scheduler.check()
