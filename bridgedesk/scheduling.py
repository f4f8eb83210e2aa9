"""The scheduler the worker runs: APScheduler in its own thread, whose death is noticed (never
a silent stop), with a database job store that waits out a locked database instead of failing.

Two rules make it survive a shared SQLite file:
- The job store's blocking statements never run on the event loop where the jobs hold their
  transactions. If they did, a store write waiting for the write lock would stop the loop, so
  the job holding that lock could never commit: the store would time out on a lock held by
  its own process. The scheduler therefore runs in its own thread; jobs still run on the
  worker's event loop (`run_on_loop`).
- APScheduler left alone stops for good when a job-store call raises inside its wake-up,
  while the process lives on. `GuardedScheduler` turns any such failure into `died`, which the
  worker turns into a non-zero exit so that whatever runs it starts it again.
"""

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from datetime import datetime
from typing import Any, TypeVar

from apscheduler.events import EVENT_SCHEDULER_SHUTDOWN, SchedulerEvent
from apscheduler.job import Job
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler

from bridgedesk.db import retry_on_lock

log = logging.getLogger("bridgedesk.scheduler")
T = TypeVar("T")


class SchedulerDied(RuntimeError):
    """The scheduler stopped scheduling; the worker must exit and be restarted."""


class GuardedScheduler(BackgroundScheduler):  # type: ignore[misc,unused-ignore]
    """A BackgroundScheduler that records its own death instead of going quiet; `died` is set
    on `loop`, the worker's event loop, where the jobs run."""

    def __init__(self, loop: asyncio.AbstractEventLoop, **options: Any) -> None:
        super().__init__(**options)
        self.loop = loop
        self.died = asyncio.Event()
        self.cause: str | None = None
        # Set by the worker before it shuts the scheduler down on purpose.
        self.stopping = False
        self._in_flight: set[Future[Any]] = set()
        self._lock = threading.Lock()
        self.add_listener(self._on_shutdown, EVENT_SCHEDULER_SHUTDOWN)

    def fail(self, cause: str) -> None:
        """Callable from any thread."""
        with self._lock:
            first = self.cause is None
            if first:
                self.cause = cause
        if first:
            log.critical("scheduler failed: %s", cause)
        self.loop.call_soon_threadsafe(self.died.set)

    def check(self) -> None:
        """Raise `SchedulerDied` unless the scheduler is running as it should."""
        if self.cause is not None:
            raise SchedulerDied(self.cause)
        thread = getattr(self, "_thread", None)
        if not self.stopping and (not self.running or thread is None or not thread.is_alive()):
            raise SchedulerDied("the scheduler's thread is not running")

    def run_on_loop(self, job: Callable[[], Awaitable[T]]) -> T:
        """Called in the scheduler's thread pool: run `job` on the worker's loop, wait for it."""

        async def call() -> T:
            return await job()

        future = asyncio.run_coroutine_threadsafe(call(), self.loop)
        with self._lock:
            self._in_flight.add(future)
        try:
            return future.result()
        finally:
            with self._lock:
                self._in_flight.discard(future)

    def cancel_running_jobs(self) -> None:
        """Cancel the jobs still running, so no pool thread waits on a loop that is ending."""
        with self._lock:
            for future in self._in_flight:
                future.cancel()

    def _process_jobs(self) -> float | None:
        try:
            wait: float | None = super()._process_jobs()
        except BaseException as error:
            self.fail(f"processing due jobs raised {type(error).__name__}: {error}")
            raise
        return wait

    def _on_shutdown(self, _event: SchedulerEvent) -> None:
        if not self.stopping:
            self.fail("APScheduler shut down while the worker was running")


class RetryingJobStore(SQLAlchemyJobStore):  # type: ignore[misc,unused-ignore]
    """APScheduler's SQLAlchemy job store whose statements are retried while the database is
    locked; a store that still cannot be read or written kills the scheduler (see above)."""

    def _retry(self, call: Callable[[], T], what: str) -> T:
        try:
            return retry_on_lock(call, what=f"job store {what}")
        except Exception as error:
            scheduler = getattr(self, "_scheduler", None)
            if isinstance(scheduler, GuardedScheduler):
                scheduler.fail(f"job store {what} raised {type(error).__name__}: {error}")
            raise

    def lookup_job(self, job_id: str) -> Job | None:
        return self._retry(lambda: super(RetryingJobStore, self).lookup_job(job_id), "lookup")

    def get_due_jobs(self, now: datetime) -> list[Job]:
        return self._retry(lambda: super(RetryingJobStore, self).get_due_jobs(now), "read")

    def get_next_run_time(self) -> datetime | None:
        when: datetime | None = self._retry(
            lambda: super(RetryingJobStore, self).get_next_run_time(), "read"
        )
        return when

    def get_all_jobs(self) -> list[Job]:
        return self._retry(lambda: super(RetryingJobStore, self).get_all_jobs(), "read")

    def add_job(self, job: Job) -> None:
        self._retry(lambda: super(RetryingJobStore, self).add_job(job), "insert")

    def update_job(self, job: Job) -> None:
        self._retry(lambda: super(RetryingJobStore, self).update_job(job), "update")

    def remove_job(self, job_id: str) -> None:
        self._retry(lambda: super(RetryingJobStore, self).remove_job(job_id), "delete")

    def remove_all_jobs(self) -> None:
        self._retry(lambda: super(RetryingJobStore, self).remove_all_jobs(), "delete")
