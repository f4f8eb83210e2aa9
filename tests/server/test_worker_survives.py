"""The real `bridgedesk serve` and `bridgedesk worker` sharing one SQLite file under ordinary
load (parallel bookings, invoice issues with a double click, a stream of page reads): afterwards
the worker still schedules (a new booking's email reaches a real SMTP server) and its heartbeat
is fresh. And a worker whose scheduler dies exits non-zero, so that it is restarted.

The mechanisms under test: WAL and a busy timeout on every connection of every process
(bridgedesk.db.sqlite_pragmas), a job store that retries on a lock and never blocks the jobs'
event loop (bridgedesk.scheduling), and the worker's exit on a dead scheduler.
"""

import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bridgedesk.app.demo import DEMO_PASSWORD
from bridgedesk.app.worker import SCHEDULER_DIED_EXIT
from tests.mail import SmtpServer
from tests.server_process import free_port, run_cli, running_server, running_worker

pytestmark = [pytest.mark.server]

TIMEOUT = httpx.Timeout(60.0, connect=10.0)
BOOKINGS = 20
EMAIL_WITHIN_SECONDS = 60


def _month(months_back: int) -> str:
    today = datetime.now(UTC).date().replace(day=1)
    for _ in range(months_back):
        today = (today - timedelta(days=1)).replace(day=1)
    return today.strftime("%Y-%m")


def _client(base_url: str, email: str) -> httpx.Client:
    client = httpx.Client(base_url=base_url, timeout=TIMEOUT)
    response = client.post("/api/v1/auth/token", json={"email": email, "password": DEMO_PASSWORD})
    assert response.status_code == 200, response.text
    client.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
    return client


def _page_client(base_url: str, email: str) -> httpx.Client:
    """Signed in through the login form (with its CSRF token, if the form carries one)."""
    client = httpx.Client(base_url=base_url, timeout=TIMEOUT)
    form = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    data = {"email": email, "password": DEMO_PASSWORD}
    if token:
        data["csrf_token"] = token.group(1)
    assert client.post("/login", data=data).status_code == 303
    return client


def _booking(customer_id: int, site_id: int, start: datetime, title: str) -> dict[str, Any]:
    return {
        "customer_id": customer_id,
        "title": title,
        "leader_name": "Lee Leader",
        "start": start.isoformat(),
        "end": (start + timedelta(minutes=45)).isoformat(),
        "sites": [{"site_id": site_id}],
    }


def _wait_for(what: str, seconds: float, check: Callable[[], bool]) -> float:
    began = time.monotonic()
    while not check():
        if time.monotonic() - began > seconds:
            pytest.fail(f"{what}: not within {seconds} s")
        time.sleep(0.25)
    return time.monotonic() - began


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer(free_port())
    server.start()
    yield server
    server.stop()


def _worker_env(smtp: SmtpServer, base_url: str) -> dict[str, str]:
    return {
        "BRIDGEDESK_SMTP_HOST": "127.0.0.1",
        "BRIDGEDESK_SMTP_PORT": str(smtp.port),
        "BRIDGEDESK_OUTBOX_POLL_SECONDS": "1",
        "BRIDGEDESK_WORKER_HEARTBEAT_SECONDS": "1",
        "BRIDGEDESK_HEALTH_URL": f"{base_url}/healthz",
    }


def test_the_worker_keeps_scheduling_through_load_on_one_sqlite_file(
    tmp_path: Path, smtp_server: SmtpServer
) -> None:
    url = f"sqlite:///{tmp_path / 'bridgedesk.db'}"
    run_cli(url, "demo")  # customers, users, sites, rate plans, a month of call records
    for months_back in (1, 2):
        run_cli(url, "invoices", "run", "--month", _month(months_back))
    with running_server(url, tmp_path, extra_env={"BRIDGEDESK_SIP_WORKERS": "0"}) as server:
        env = _worker_env(smtp_server, server.base_url)
        with running_worker(url, tmp_path / "worker.log", extra_env=env) as worker:
            _wait_for("first heartbeat", 30, lambda: _worker_ok(server.base_url))
            scheduler = _client(server.base_url, "scheduler@acme.example")
            finance = _client(server.base_url, "finance@bridgedesk.example")
            admin_pages = _page_client(server.base_url, "admin@bridgedesk.example")
            me = scheduler.get("/api/v1/users/me").json()
            customer_id = me["customer_id"]
            sites = scheduler.get("/api/v1/sites", params={"customer_id": customer_id}).json()
            site_ids = [s["id"] for s in sites]
            drafts = finance.get("/api/v1/invoices", params={"status": "draft"}).json()["items"]
            assert len(drafts) >= 4, drafts
            # Five issues: four drafts, one of them clicked twice.
            to_issue = [d["id"] for d in drafts[:4]] + [drafts[0]["id"]]

            day = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=9)
            done = threading.Event()
            page_reads: list[int] = []

            def read_pages() -> None:
                while not done.is_set():
                    for path in ("/day", "/confirmations", "/dashboard", "/billing"):
                        page_reads.append(admin_pages.get(path).status_code)

            def book(i: int) -> int:
                start = day + timedelta(hours=i // len(site_ids), minutes=0)
                body = _booking(customer_id, site_ids[i % len(site_ids)], start, f"Load {i}")
                return scheduler.post("/api/v1/conferences", json=body).status_code

            def issue(invoice_id: int) -> int:
                return finance.post(f"/api/v1/invoices/{invoice_id}/issue").status_code

            with ThreadPoolExecutor(max_workers=BOOKINGS + len(to_issue) + 2) as pool:
                readers = [pool.submit(read_pages) for _ in range(2)]
                booked = [pool.submit(book, i) for i in range(BOOKINGS)]
                issued = [pool.submit(issue, i) for i in to_issue]
                booking_statuses = [f.result() for f in booked]
                issue_statuses = [f.result() for f in issued]
                done.set()
                for reader in readers:
                    reader.result()

            assert booking_statuses == [201] * BOOKINGS
            assert sorted(issue_statuses) == [200, 200, 200, 200, 409]
            assert page_reads and set(page_reads) == {200}
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]

            # Afterwards the scheduler still runs: a new booking's receipt is mailed.
            after = _booking(customer_id, site_ids[0], day + timedelta(days=1), "After the storm")
            created = scheduler.post("/api/v1/conferences", json=after)
            assert created.status_code == 201, created.text
            number = created.json()["number"]
            took = _wait_for(
                "the new booking's email",
                EMAIL_WITHIN_SECONDS,
                lambda: bool(smtp_server.mailbox.with_subject(number)),
            )
            print(f"{len(page_reads)} page reads; new booking's email after {took:.1f} s")
            assert _worker_ok(server.base_url)
            assert worker.poll() is None
            log = (tmp_path / "worker.log").read_text()
            assert "scheduler failed" not in log and "database is locked" not in log


def _worker_ok(base_url: str) -> bool:
    health = httpx.get(f"{base_url}/healthz", timeout=10).json()
    worker = health.get("worker") or {}
    if not worker.get("ok"):
        return False
    beat = datetime.fromisoformat(worker["last_heartbeat"].replace("Z", "+00:00"))
    return datetime.now(UTC) - beat < timedelta(seconds=10)


def test_a_worker_whose_scheduler_dies_exits_non_zero(tmp_path: Path) -> None:
    """The job store's table vanishes under the running scheduler (a store that can no longer
    be read): APScheduler alone would log and idle forever; the worker exits with status 3."""
    url = f"sqlite:///{tmp_path / 'bridgedesk.db'}"
    run_cli(url, "migrate")
    env = {"BRIDGEDESK_WORKER_HEARTBEAT_SECONDS": "1", "BRIDGEDESK_OUTBOX_POLL_SECONDS": "1"}
    log = tmp_path / "worker.log"
    with running_worker(url, log, extra_env=env) as worker:
        _wait_for("the scheduler to start", 60, lambda: "Scheduler started" in log.read_text())
        assert worker.poll() is None

        with sqlite3.connect(tmp_path / "bridgedesk.db", timeout=30) as connection:
            connection.execute("DROP TABLE bridgedesk_scheduled_jobs")
        took = _wait_for("the worker to exit", 30, lambda: worker.poll() is not None)
    print(f"worker exited {took:.1f} s after its job store was dropped")
    assert worker.returncode == SCHEDULER_DIED_EXIT, log.read_text()[-3000:]
    assert "the scheduler died" in log.read_text()
