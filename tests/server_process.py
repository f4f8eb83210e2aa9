"""Starting the real `bridgedesk serve` (and `bridgedesk worker`) in child processes for tests
that need a real server, and stopping them."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_bridgedesk(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`bridgedesk ARGS...` in a session (process group) of its own, its output into `log`."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [str(BIN / "bridgedesk"), *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def stop_group(process: subprocess.Popen[bytes], *, within: float = 20) -> None:
    """SIGTERM to the process's group (it and its children), SIGKILL if it has not ended
    within `within` seconds."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=within)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@dataclass(frozen=True)
class RunningServer:
    base_url: str
    database_url: str
    log: Path
    pid: int


def run_cli(database_url: str, *args: str) -> str:
    """Run `bridgedesk ARGS...` against the given database; returns its output."""
    env = {**os.environ, "BRIDGEDESK_DATABASE_URL": database_url}
    done = subprocess.run(
        [str(BIN / "bridgedesk"), *args], env=env, capture_output=True, text=True, timeout=120
    )
    if done.returncode != 0:
        raise RuntimeError(f"bridgedesk {' '.join(args)} failed: {done.stderr}{done.stdout}")
    return done.stdout


@contextmanager
def running_server(
    database_url: str,
    log_dir: Path,
    *,
    workers: int = 1,
    extra_env: dict[str, str] | None = None,
    healthy: bool = True,
    access_log: bool = False,
) -> Iterator[RunningServer]:
    """`bridgedesk serve` on a free loopback port; stopped (and waited for) on exit.

    It is ready when /healthz answers 200, or (`healthy=False`, a database that is down on
    purpose) when /healthz answers at all. With `access_log`, uvicorn writes its access lines
    to the log (at level info)."""
    port = free_port()
    log = log_dir / f"server-{port}.log"
    env = {**os.environ, "BRIDGEDESK_DATABASE_URL": database_url, **(extra_env or {})}
    serve = ["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    quiet = () if access_log else ("--no-access-log",)
    level = "info" if access_log else "warning"
    process = start_bridgedesk([*serve, *quiet, "--log-level", level], env, log)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{log.read_text()}")
            try:
                status = httpx.get(f"{base_url}/healthz", timeout=1).status_code
                if status == 200 or not healthy:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server did not answer within 60 s:\n{log.read_text()}")
            time.sleep(0.2)
        yield RunningServer(base_url, database_url, log, process.pid)
    finally:
        stop_group(process)


@contextmanager
def running_worker(
    database_url: str, log: Path, *, extra_env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """`bridgedesk worker` (the scheduler; no SIP processes unless asked) logging to `log`;
    stopped on exit unless it already ended (the test looks at how it ended)."""
    env = {
        **os.environ,
        "BRIDGEDESK_DATABASE_URL": database_url,
        "BRIDGEDESK_SIP_WORKERS": "0",
        **(extra_env or {}),
    }
    process = start_bridgedesk(["worker"], env, log)
    try:
        yield process
    finally:
        if process.poll() is None:
            stop_group(process, within=40)
