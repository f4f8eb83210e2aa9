"""Starting the real `bridgedesk serve` in a child process for tests that need a real server."""

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
    access_log: bool = False,
) -> Iterator[RunningServer]:
    """`bridgedesk serve` on a free loopback port; stopped (and waited for) on exit. With
    `access_log`, uvicorn writes its access lines to the log (at level info)."""
    port = free_port()
    log = log_dir / f"server-{port}.log"
    env = {**os.environ, "BRIDGEDESK_DATABASE_URL": database_url, **(extra_env or {})}
    with log.open("w") as out:
        process = subprocess.Popen(
            [
                str(BIN / "bridgedesk"),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(workers),
                *(() if access_log else ("--no-access-log",)),
                "--log-level",
                "info" if access_log else "warning",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{log.read_text()}")
            try:
                if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server did not answer within 60 s:\n{log.read_text()}")
            time.sleep(0.2)
        yield RunningServer(base_url, database_url, log, process.pid)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
