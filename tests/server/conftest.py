"""The real `bridgedesk serve --workers 4` on a throwaway PostgreSQL database, seeded through
the CLI and the API, and warmed-up HTTP clients that fire requests at it together.

`BRIDGEDESK_TEST_WITHOUT_EXCLUSION=1` drops the exclusion constraint after migrating and starts
the server without its per-site booking lock (BRIDGEDESK_BOOKING_SITE_LOCK=false), leaving a
plain check-then-insert as the only guard: the concurrency tests must then fail, which is how we
know they would catch a broken constraint (see bench/README.md for counts).
"""

import os
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.conftest import create_pg_database, drop_pg_database
from tests.server_process import RunningServer, run_cli, running_server

WITHOUT_EXCLUSION = os.environ.get("BRIDGEDESK_TEST_WITHOUT_EXCLUSION") == "1"
EXCLUSION_CONSTRAINT = "ex_reservations_site_holds_no_overlap"
WORKERS = 4
PASSWORD = "server-test-password"
# Every HTTP call and every barrier wait is bounded, so a wedged server fails the test.
HTTP_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
BARRIER_TIMEOUT = 60.0


@dataclass
class BookingService:
    """The running server and what the fixture seeded in it."""

    server: RunningServer
    admin: httpx.Client
    customer_id: int
    scheduler_emails: list[str]
    _sites_made: int = field(default=0)

    @property
    def database_url(self) -> str:
        return self.server.database_url

    def make_sites(self, count: int) -> list[int]:
        """`count` new sites of the seeded customer, registered through the API."""
        ids = []
        for _ in range(count):
            self._sites_made += 1
            response = self.admin.post(
                "/api/v1/sites",
                json={
                    "customer_id": self.customer_id,
                    "name": f"Room {self._sites_made}",
                    "kind": "room",
                    "timezone": "Europe/Zurich",
                    "sip_uri": f"sip:room{self._sites_made}@127.0.0.1",
                    "max_speed_kbps": 2048,
                    "billing_zone": "CH",
                },
            )
            assert response.status_code == 201, response.text
            ids.append(int(response.json()["id"]))
        return ids

    @contextmanager
    def scheduler_clients(self, count: int) -> Iterator[list[httpx.Client]]:
        """`count` clients, each with its own bearer token and an open keep-alive connection."""
        with ExitStack() as stack:
            clients = []
            for i in range(count):
                client = stack.enter_context(
                    httpx.Client(base_url=self.server.base_url, timeout=HTTP_TIMEOUT)
                )
                email = self.scheduler_emails[i % len(self.scheduler_emails)]
                token = _token(client, email, PASSWORD)
                client.headers["Authorization"] = f"Bearer {token}"
                # Warm up: the connection is open and the token known before the first round.
                assert client.get("/api/v1/users/me").status_code == 200
                clients.append(client)
            yield clients


def _token(client: httpx.Client, email: str, password: str) -> str:
    response = client.post("/api/v1/auth/token", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def drop_exclusion_constraint(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute(
            f"ALTER TABLE reservations_site_holds DROP CONSTRAINT {EXCLUSION_CONSTRAINT}"
        )


def has_exclusion_constraint(database_url: str) -> bool:
    with psycopg.connect(database_url) as connection:
        row = connection.execute(
            "SELECT count(*) FROM pg_constraint WHERE conname = %s", (EXCLUSION_CONSTRAINT,)
        ).fetchone()
    return bool(row and row[0])


@pytest.fixture(scope="session")
def booking_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BookingService]:
    url = create_pg_database("bridgedesk_server")
    try:
        if WITHOUT_EXCLUSION:
            drop_exclusion_constraint(url)
        admin_email = f"admin-{uuid.uuid4().hex[:6]}@provider.example"
        run_cli(url, "user", "add", admin_email, "--role", "admin", "--password", PASSWORD)
        log_dir: Path = tmp_path_factory.mktemp("server")
        with (
            running_server(
                url,
                log_dir,
                workers=WORKERS,
                extra_env={"BRIDGEDESK_BOOKING_SITE_LOCK": "false"} if WITHOUT_EXCLUSION else None,
            ) as server,
            httpx.Client(base_url=server.base_url, timeout=HTTP_TIMEOUT) as admin,
        ):
            admin.headers["Authorization"] = f"Bearer {_token(admin, admin_email, PASSWORD)}"
            customer = admin.post(
                "/api/v1/customers",
                json={
                    "name": "Contended Corp",
                    "timezone": "Europe/Zurich",
                    "billing_emails": ["billing@contended.example"],
                },
            )
            assert customer.status_code == 201, customer.text
            customer_id = int(customer.json()["id"])
            schedulers = [f"scheduler{i}@contended.example" for i in range(4)]
            for email in schedulers:
                added = admin.post(
                    "/api/v1/users",
                    json={
                        "email": email,
                        "name": email.split("@")[0].title(),
                        "password": PASSWORD,
                        "role": "scheduler",
                        "customer_id": customer_id,
                    },
                )
                assert added.status_code == 201, added.text
            yield BookingService(server, admin, customer_id, schedulers)
    finally:
        drop_pg_database(url)


Plan = Sequence[Sequence[dict[str, Any]]]


def fire_together(clients: Sequence[httpx.Client], plan: Plan) -> list[list[httpx.Response]]:
    """Round by round, every client posts its booking `plan[round][client]` at the same moment.

    Requests are built before the barrier, so releasing it costs each thread only the send.
    Each client touches its connection just before the first round: the server closes
    keep-alive connections idle for 5 s, and logging everyone in can take longer than that.
    A failing thread breaks the barrier, so the others stop at once instead of waiting.
    """
    barrier = threading.Barrier(len(clients), timeout=BARRIER_TIMEOUT)
    results: list[list[httpx.Response | None]] = [[None] * len(clients) for _ in plan]

    def run(i: int) -> None:
        try:
            assert clients[i].get("/api/v1/users/me").status_code == 200
            for r, bookings in enumerate(plan):
                request = clients[i].build_request("POST", "/api/v1/conferences", json=bookings[i])
                barrier.wait()
                results[r][i] = clients[i].send(request)
        except BaseException:
            barrier.abort()
            raise

    with ThreadPoolExecutor(max_workers=len(clients)) as pool:
        for future in [pool.submit(run, i) for i in range(len(clients))]:
            future.result()
    return [[response for response in row if response is not None] for row in results]


@pytest.fixture
def sql(booking_service: BookingService) -> Iterator[Callable[..., list[tuple[Any, ...]]]]:
    """Plain SQL against the server's database, beside the application."""
    with psycopg.connect(booking_service.database_url, autocommit=True) as connection:

        def query(statement: str, *params: Any) -> list[tuple[Any, ...]]:
            return connection.execute(statement, params).fetchall()

        yield query
