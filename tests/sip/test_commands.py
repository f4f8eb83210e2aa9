"""The commands that run the engine: `bridgedesk probe` (on the embedded SQLite database,
with no worker running it starts an engine of its own) and `bridgedesk worker`, which runs
the scheduler and the SIP processes and stops them all on SIGTERM."""

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from bridgedesk.migrate import upgrade
from tests.server_process import BIN
from tests.sip.conftest import TEST_ENGINE_ENV
from tests.sip.sipp import sipp_uas


def _bridgedesk(
    database_url: str, *args: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **TEST_ENGINE_ENV, "BRIDGEDESK_DATABASE_URL": database_url}
    return subprocess.run(
        [str(BIN / "bridgedesk"), *args], env=env, capture_output=True, text=True,
        timeout=timeout,
    )  # fmt: skip


@pytest.fixture(scope="module")
def cli_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One migrated SQLite file for the module's commands (probes are independent rows)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('cli') / 'probe.db'}"
    upgrade(url)
    return url


def test_probe_command_prints_the_result_and_exits_0_on_success(cli_database: str) -> None:
    url = cli_database
    with sipp_uas("answer", pause_ms=100) as peer:
        done = _bridgedesk(url, "probe", peer.uri(), "--hold", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "result: PASS  cause=ok" in done.stdout
    assert "codec:          PCMU/8000" in done.stdout
    answer = float(re.search(r"answer \(ms\):\s+([\d.]+)", done.stdout).group(1))  # type: ignore[union-attr]
    assert abs(answer - 100) <= 20, done.stdout


def test_probe_command_exits_1_when_the_site_refuses(cli_database: str) -> None:
    url = cli_database
    with sipp_uas("reject", fill={"status": "486", "reason": "Busy Here"}) as peer:
        done = _bridgedesk(url, "probe", peer.uri())
    assert done.returncode == 1, done.stdout + done.stderr
    assert "result: FAIL  cause=client_not_synchronized" in done.stdout
    assert "final status:   486" in done.stdout


def test_probe_command_refuses_a_malformed_uri(cli_database: str) -> None:
    done = _bridgedesk(cli_database, "probe", "http://example.com")
    assert done.returncode == 2
    assert "Not a SIP URI" in done.stderr


def test_worker_runs_the_scheduler_and_the_sip_processes_and_stops_them(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'worker.db'}"
    log = tmp_path / "worker.log"
    env = {
        **os.environ, **TEST_ENGINE_ENV, "BRIDGEDESK_DATABASE_URL": url,
        "BRIDGEDESK_SIP_WORKERS": "2",
    }  # fmt: skip
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [str(BIN / "bridgedesk"), "worker"], env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            text = log.read_text()
            if (
                "is the scheduler" in text
                and len(re.findall(r"SIP worker \S+ listening", text)) == 2
            ):
                break
            time.sleep(0.1)
        else:
            raise AssertionError(log.read_text())
        children = Path(f"/proc/{worker.pid}/task/{worker.pid}/children").read_text().split()
        assert len(children) == 2
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=20) == 0, log.read_text()
        for pid in children:  # the SIP processes are gone too
            assert (
                not Path(f"/proc/{pid}").exists()
                or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
            )
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(10)
