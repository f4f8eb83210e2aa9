"""A SIP worker process killed (SIGKILL) in the middle of a batch of probes: the supervisor
restarts it, every queued probe still ends with a result, and the web service (a real
`bridgedesk serve`) answers throughout."""

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, pool, text

from bridgedesk.db import sync_url
from tests.conftest import create_pg_database, drop_pg_database
from tests.server_process import run_cli, running_server
from tests.sip.conftest import sip_engine
from tests.sip.sipp import sipp_uas

pytestmark = [pytest.mark.postgres, pytest.mark.server]

PASSWORD = "sip-crash-test-password"
PROBES = 24


@pytest.fixture
def crash_database() -> Iterator[str]:
    url = create_pg_database("bridgedesk_sipcrash")
    try:
        yield url
    finally:
        drop_pg_database(url)


class Watcher(threading.Thread):
    """Polls /healthz and a probe's GET every 50 ms; keeps every answer that was not 200."""

    def __init__(self, base_url: str, headers: dict[str, str], probe_id: int) -> None:
        super().__init__(daemon=True)
        self.client = httpx.Client(base_url=base_url, headers=headers, timeout=5)
        self.probe_id = probe_id
        self.stop = threading.Event()
        self.requests = 0
        self.failures: list[str] = []

    def run(self) -> None:
        while not self.stop.is_set():
            for path in ("/healthz", f"/api/v1/probes/{self.probe_id}"):
                try:
                    status = self.client.get(path).status_code
                    if status != 200:
                        self.failures.append(f"{path}: {status}")
                except httpx.HTTPError as error:
                    self.failures.append(f"{path}: {error!r}")
                self.requests += 1
            time.sleep(0.05)
        self.client.close()


def _running_owner_pids(url: str) -> dict[int, int]:
    """pid -> number of probes it holds, from the claims in the database."""
    engine = create_engine(sync_url(url), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT claimed_by, count(*) FROM bridge_probes "
                    "WHERE status = 'running' GROUP BY claimed_by"
                )
            ).all()
    finally:
        engine.dispose()
    return {int(owner.rsplit("/", 1)[1]): count for owner, count in rows if owner}


def test_a_killed_sip_process_is_restarted_and_no_probe_is_lost(
    crash_database: str, tmp_path: Path
) -> None:
    url = crash_database
    run_cli(url, "user", "add", "ops@example.com", "--role", "operator", "--password", PASSWORD)
    with (
        sipp_uas("answer", pause_ms=200) as peer,
        running_server(url, tmp_path) as server,
        sip_engine(url, processes=2) as engine,
    ):
        api = httpx.Client(base_url=server.base_url, timeout=10)
        token = api.post(
            "/api/v1/auth/token", json={"email": "ops@example.com", "password": PASSWORD}
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        ids = []
        for i in range(PROBES):
            response = api.post(
                "/api/v1/probes",
                json={"sip_uri": peer.uri(f"site{i}"), "hold_seconds": 1.0},
                headers=headers,
            )
            assert response.status_code == 201, response.text
            ids.append(response.json()["id"])
        watcher = Watcher(server.base_url, headers, ids[0])
        watcher.start()
        try:
            # The victim: a SIP process holding probes right now.
            deadline = time.monotonic() + 10
            victim = None
            while victim is None and time.monotonic() < deadline:
                holders = _running_owner_pids(url)
                live = set(engine.sip_pids())
                victim = next((pid for pid, n in holders.items() if pid in live and n), None)
                time.sleep(0.02)
            assert victim is not None, engine.log_text()
            os.kill(victim, signal.SIGKILL)
            killed_at = time.monotonic()

            # Restarted: two live processes again, the victim not among them.
            while time.monotonic() - killed_at < 15:
                pids = engine.sip_pids()
                if len(pids) == 2 and victim not in pids and engine.listening() >= 3:
                    break
                time.sleep(0.05)
            restarted_after = time.monotonic() - killed_at
            assert len(pids) == 2 and victim not in pids, engine.log_text()

            # Every probe ends with a result.
            results: dict[int, dict] = {}
            while len(results) < PROBES and time.monotonic() - killed_at < 60:
                for probe_id in ids:
                    if probe_id not in results:
                        body = api.get(f"/api/v1/probes/{probe_id}", headers=headers).json()
                        if body["result"] is not None:
                            results[probe_id] = body
                time.sleep(0.1)
        finally:
            watcher.stop.set()
            watcher.join(10)
    assert len(results) == PROBES, f"{PROBES - len(results)} probes without a result"
    retried = [body for body in results.values() if body["attempts"] >= 2]
    assert retried, "the killed process held probes; they must have been run again"
    assert all(body["result"]["cause"] == "ok" for body in results.values()), [
        body["result"]["detail"] for body in results.values() if body["result"]["cause"] != "ok"
    ]
    assert watcher.requests > 20 and watcher.failures == [], watcher.failures
    print(
        f"killed pid {victim}; restarted in {restarted_after:.2f} s; {len(retried)} probes "
        f"re-run; {watcher.requests} web requests during the run, all 200"
    )
