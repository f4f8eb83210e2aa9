"""The supervisor of the SIP worker processes: `bridgedesk worker` starts N of them, each
`python -m bridge.engine.process`, and restarts any that dies (pjsua2 aborts the process on
some internal assertions), at a bounded rate. The claims of a dead process are taken back at
once: its probes re-queued (or failed cleanly), its dials ended as "engine_lost"."""

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass, field

from bridge.engine.work import WorkQueue, make_engine, owner_name
from bridgedesk.settings import Settings

log = logging.getLogger("bridge.engine.supervisor")

CHECK_SECONDS = 0.25
STOP_GRACE_SECONDS = 10.0


@dataclass
class _Slot:
    index: int
    process: subprocess.Popen[bytes] | None = None
    restarts: deque[float] = field(default_factory=deque)
    not_before: float = 0.0


class Supervisor:
    def __init__(self, settings: Settings, *, processes: int | None = None) -> None:
        self.settings = settings
        self.count = settings.sip_workers if processes is None else processes
        self.slots = [_Slot(i) for i in range(self.count)]
        self.queue = WorkQueue(
            make_engine(settings.database_url),
            owner=f"supervisor/{os.getpid()}",
            lease_seconds=settings.sip_lease_seconds,
            max_attempts=settings.sip_probe_max_attempts,
        )
        self.started = 0  # processes started, restarts included

    def pids(self) -> list[int]:
        return [s.process.pid for s in self.slots if s.process and s.process.poll() is None]

    def _spawn(self, slot: _Slot) -> None:
        env = {**os.environ, "BRIDGEDESK_DATABASE_URL": self.settings.database_url}
        slot.process = subprocess.Popen(
            [sys.executable, "-m", "bridge.engine.process"],
            env=env,
            stdin=subprocess.DEVNULL,
        )
        self.started += 1
        log.info("SIP process %d started (pid %d)", slot.index, slot.process.pid)

    async def run(self, stop: asyncio.Event) -> None:
        """Keep `count` processes alive until `stop` is set, then stop them."""
        try:
            while not stop.is_set():
                for slot in self.slots:
                    await self._tend(slot)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), CHECK_SECONDS)
        finally:
            await asyncio.to_thread(self._stop_all)
            self.queue.engine.dispose()

    async def _tend(self, slot: _Slot) -> None:
        process = slot.process
        if process is not None:
            code = process.poll()
            if code is None:
                return
            slot.process = None
            log.warning("SIP process %d (pid %d) exited with %s", slot.index, process.pid, code)
            try:  # its calls are gone: hand its work on now, not when the lease runs out
                await asyncio.to_thread(self.queue.reap, dead_owner=owner_name(process.pid))
            except Exception:  # the lease still runs out; other processes reap then
                log.exception("could not take back the work of pid %d", process.pid)
            self._schedule_restart(slot)
        if time.monotonic() >= slot.not_before:
            self._spawn(slot)

    def _schedule_restart(self, slot: _Slot) -> None:
        """At most sip_restarts_per_minute restarts per slot; past that, wait until the
        oldest restart is a minute old (a process that cannot start is not spun on)."""
        now = time.monotonic()
        while slot.restarts and now - slot.restarts[0] > 60:
            slot.restarts.popleft()
        if len(slot.restarts) >= self.settings.sip_restarts_per_minute:
            slot.not_before = slot.restarts[0] + 60
            log.error("SIP process %d restarts too often; next try in %.0f s", slot.index,
                      slot.not_before - now)  # fmt: skip
        else:
            slot.not_before = now
        slot.restarts.append(max(now, slot.not_before))

    def _stop_all(self) -> None:
        running = [s.process for s in self.slots if s.process and s.process.poll() is None]
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
                with contextlib.suppress(Exception):
                    self.queue.reap(dead_owner=owner_name(process.pid))
