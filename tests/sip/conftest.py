"""Fixtures for real SIP tests: a committed database (throwaway PostgreSQL), the SIP engine
running for real (`bridgedesk worker --sip-only`, supervising its pjsua2 processes), and
helpers to queue probes and dials and wait for what the engine wrote back.

Other packages' SIP tests (call handling, certification) reuse these: `sip_database`,
`sip_engine(database_url, ...)`, `wait_for_probe`, `wait_for_dial`, and the sipp harness in
tests/sip/sipp.py.
"""

import asyncio
import contextlib
import os
import random
import re
import signal
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bridge.service.dials import DialView, get_dials
from bridge.service.probes import ProbeView, get_probe
from bridgedesk.db import create_engine_for
from tests.conftest import own_database
from tests.server_process import start_bridgedesk, stop_group

# Engine settings for tests: short leases and polls so a lost process is noticed in seconds.
TEST_ENGINE_ENV = {
    "BRIDGEDESK_SIP_LEASE_SECONDS": "2",
    "BRIDGEDESK_SIP_POLL_SECONDS": "0.05",
    "BRIDGEDESK_SIP_ANSWER_TIMEOUT_SECONDS": "5",
    "BRIDGEDESK_SIP_DIALS_PER_SECOND": "20",
}


@dataclass
class RunningEngine:
    database_url: str
    process: subprocess.Popen[bytes]
    log: Path
    processes: int

    def sip_pids(self) -> list[int]:
        """The supervisor's live SIP processes (its children), from /proc."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        try:
            return [int(pid) for pid in children.read_text().split()]
        except OSError:
            return []

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")[-6000:]

    def listening(self) -> int:
        return len(re.findall(r"SIP worker \S+ listening", self.log.read_text(errors="replace")))


@contextmanager
def sip_engine(
    database_url: str, *, processes: int = 1, env: dict[str, str] | None = None
) -> Iterator[RunningEngine]:
    """`bridgedesk worker --sip-only` with `processes` SIP processes on a port range of its
    own; waits until every process listens, and stops the lot (SIGTERM, then SIGKILL) on exit."""
    log = Path(tempfile.mkstemp(prefix="sip-engine-", suffix=".log")[1])
    base = random.randrange(20000, 40000, 100)
    full_env = {
        **os.environ,
        **TEST_ENGINE_ENV,
        "BRIDGEDESK_DATABASE_URL": database_url,
        "BRIDGEDESK_SIP_WORKERS": str(processes),
        "BRIDGEDESK_SIP_PORT_MIN": str(base),
        "BRIDGEDESK_SIP_PORT_MAX": str(base + 99),
        **(env or {}),
    }
    process = start_bridgedesk(["worker", "--sip-only"], full_env, log)
    engine = RunningEngine(database_url, process, log, processes)
    try:
        deadline = time.monotonic() + 30
        while engine.listening() < processes:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"SIP engine did not start:\n{engine.log_text()}")
            time.sleep(0.05)
        yield engine
    finally:
        children = engine.sip_pids()
        if process.poll() is None:
            stop_group(process)
        # The SIP processes die with their supervisor (PDEATHSIG); make sure of it, for the
        # ones this engine started only.
        for pid in children:
            with contextlib.suppress(OSError):
                if b"bridge.engine.process" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    os.kill(pid, signal.SIGKILL)
        log.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def sip_database() -> Iterator[str]:
    """A migrated, committed PostgreSQL database for the run's SIP tests; dropped afterwards.
    Tests on it create their own rows and look only at those: the engine below shares it."""
    with own_database("bridgedesk_sip") as url:
        yield url


@pytest.fixture(scope="session")
def engine(sip_database: str) -> Iterator[RunningEngine]:
    """One running SIP engine (two processes) shared by the run's SIP tests (starting one
    costs seconds). It hangs up a connected dial after 1.5 s without RTP."""
    with sip_engine(sip_database, processes=2, env={"BRIDGEDESK_NO_MEDIA_SECONDS": "1.5"}) as e:
        yield e


@asynccontextmanager
async def session_on(database_url: str) -> AsyncIterator[AsyncSession]:
    """A committed unit of work on `database_url` (not the test's rolled-back session)."""
    db_engine = create_engine_for(database_url)
    try:
        sessions = async_sessionmaker(db_engine, expire_on_commit=False)
        async with sessions() as session, session.begin():
            yield session
    finally:
        await db_engine.dispose()


async def wait_until(
    read: Callable[[], Any], done: Callable[[Any], bool], *, within: float, what: str
) -> Any:
    deadline = time.monotonic() + within
    while True:
        value = await read()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not done within {within} s; last seen {value}")
        await asyncio.sleep(0.05)


async def wait_for_probe(database_url: str, probe_id: int, *, within: float = 15) -> ProbeView:
    async def read() -> ProbeView:
        async with session_on(database_url) as session:
            return await get_probe(session, probe_id)

    view: ProbeView = await wait_until(
        read, lambda v: v.result is not None, within=within, what=f"probe {probe_id}"
    )
    return view


async def wait_for_dial(
    database_url: str, dial_id: int, statuses: set[str], *, within: float = 15
) -> DialView:
    async def read() -> DialView:
        async with session_on(database_url) as session:
            return (await get_dials(session, [dial_id]))[dial_id]

    view: DialView = await wait_until(
        read, lambda v: v.status in statuses, within=within, what=f"dial {dial_id}"
    )
    return view
