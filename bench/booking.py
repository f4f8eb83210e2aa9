"""Bookings per second through the HTTP API next to the raw INSERTs of the same rows.

    python bench/booking.py [--workers 4] [--clients 8] [--seconds 10] [--sites-per-booking 2]

Creates a throwaway PostgreSQL database (beside BRIDGEDESK_TEST_PG, default
postgresql://postgres@127.0.0.1:5432/test), runs the real `bridgedesk serve --workers N` on it
and lets CLIENTS threads, each with its own keep-alive connection and bearer token, book
non-conflicting conferences for SECONDS. The server is then stopped and the baseline runs:
the same INSERTs (one conference row with the columns the API wrote, plus its site-hold rows,
one transaction per booking) over CLIENTS psycopg connections into the same table, under the
same exclusion constraint, for the same time. Prints both rates and their ratio; drops the
database at the end.
"""

import argparse
import os
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg

# The same real-server harness the tests use: run from the repository root or anywhere.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.server_process import run_cli, running_server

ADMIN_URL = os.environ.get("BRIDGEDESK_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
PASSWORD = "bench-password"
TIMEOUT = httpx.Timeout(30.0, connect=10.0)


def _database_url(name: str) -> str:
    return ADMIN_URL.rsplit("/", 1)[0] + "/" + name


@contextmanager
def throwaway_database(prefix: str = "bridgedesk_bench") -> Iterator[str]:
    """A fresh PostgreSQL database beside BRIDGEDESK_TEST_PG, dropped at the end (every bench)."""
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _database_url(name)
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _created(response: httpx.Response) -> Any:
    if response.status_code not in (200, 201):
        raise RuntimeError(f"{response.request.url}: {response.status_code} {response.text}")
    return response.json()


def _token(client: httpx.Client, email: str) -> str:
    body = {"email": email, "password": PASSWORD}
    return str(_created(client.post("/api/v1/auth/token", json=body))["access_token"])


def seed(base_url: str, admin_email: str, clients: int, sites_per_booking: int) -> dict[str, Any]:
    """A bridge, a customer, a scheduler, and SITES_PER_BOOKING sites for every client.

    The bridge is large enough never to refuse, but its presence makes every booking take the
    capacity path it takes in production (hour locks and the busiest-instant sweep).
    """
    with httpx.Client(base_url=base_url, timeout=TIMEOUT) as admin:
        admin.headers["Authorization"] = f"Bearer {_token(admin, admin_email)}"
        bridge = {
            "name": "Bench MCU",
            "sip_uri": "sip:mcu@127.0.0.1:5080",  # not a site's endpoint
            "ports": 9000,
            "adhoc_reserve": 100,
        }
        _created(admin.post("/api/v1/bridges", json=bridge))
        body = {"name": "Bench Corp", "timezone": "Europe/Zurich", "billing_emails": []}
        customer_id = _created(admin.post("/api/v1/customers", json=body))["id"]
        scheduler = "scheduler@bench.example"
        body = {"email": scheduler, "name": "Sam", "password": PASSWORD, "role": "scheduler"}
        _created(admin.post("/api/v1/users", json={**body, "customer_id": customer_id}))
        sites = []
        for i in range(clients * sites_per_booking * 2):  # half for the API, half for the raw
            site: dict[str, Any] = {
                "customer_id": customer_id,
                "name": f"Room {i}",
                "kind": "room",
                "timezone": "Europe/Zurich",
                "sip_uri": f"sip:room{i}@127.0.0.1",
                "max_speed_kbps": 2048,
                "billing_zone": "CH",
            }
            sites.append(_created(admin.post("/api/v1/sites", json=site))["id"])
    return {"customer_id": customer_id, "scheduler": scheduler, "sites": sites}


def run_for(seconds: float, clients: int, book: Callable[[int, int], None]) -> tuple[int, float]:
    """CLIENTS threads call book(client, k) for k = 0, 1, ... until SECONDS have passed."""
    counts = [0] * clients
    errors: list[BaseException] = []
    start_line = threading.Barrier(clients + 1, timeout=60)
    stop = threading.Event()

    def run(i: int) -> None:
        try:
            start_line.wait()
            while not stop.is_set():
                book(i, counts[i])
                counts[i] += 1
        except BaseException as error:
            errors.append(error)
            stop.set()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    start_line.wait()
    began = time.perf_counter()
    stop.wait(seconds)
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    elapsed = time.perf_counter() - began
    if errors:
        raise errors[0]
    return sum(counts), elapsed


def slot(base: datetime, k: int) -> tuple[datetime, datetime]:
    """The k-th booking of a client: one hour, back to back, never overlapping its others."""
    start = base + timedelta(hours=k)
    return start, start + timedelta(hours=1)


def bench_api(
    base_url: str, seed_data: dict[str, Any], clients: int, per: int, seconds: float
) -> tuple[int, float]:
    base = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=2)
    sessions = []
    for _ in range(clients):
        client = httpx.Client(base_url=base_url, timeout=TIMEOUT)
        client.headers["Authorization"] = f"Bearer {_token(client, seed_data['scheduler'])}"
        sessions.append(client)

    def book(i: int, k: int) -> None:
        start, end = slot(base, k)
        own_sites = seed_data["sites"][i * per : (i + 1) * per]
        response = sessions[i].post(
            "/api/v1/conferences",
            json={
                "customer_id": seed_data["customer_id"],
                "title": f"Bench {i}.{k}",
                "leader_name": "Lee Leader",
                "start": start.isoformat(),
                "end": end.isoformat(),
                "sites": [{"site_id": site_id} for site_id in own_sites],
            },
        )
        if response.status_code != 201:
            raise RuntimeError(f"booking {i}.{k}: {response.status_code} {response.text}")

    try:
        # Warm-up, not counted: connections open, every worker's statement caches filled.
        run_for(2.0, clients, lambda i, k: book(i, 100_000 + k))
        return run_for(seconds, clients, book)
    finally:
        for client in sessions:
            client.close()


def _columns(connection: psycopg.Connection, table: str) -> list[str]:
    rows = connection.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_name = %s AND column_name <> 'id' ORDER BY ordinal_position",
        (table,),
    ).fetchall()
    return [row[0] for row in rows]


def _template(connection: psycopg.Connection, table: str, columns: list[str]) -> dict[str, Any]:
    """One row the API wrote, every value as text for PostgreSQL to cast back on insert."""
    listed = ", ".join(f"{column}::text" for column in columns)
    row = connection.execute(f"SELECT {listed} FROM {table} ORDER BY id LIMIT 1").fetchone()
    assert row is not None, f"the API wrote no row into {table}"
    return dict(zip(columns, row, strict=True))


def bench_raw(
    database_url: str, seed_data: dict[str, Any], clients: int, per: int, seconds: float
) -> tuple[int, float]:
    with psycopg.connect(database_url) as connection:
        conference_columns = _columns(connection, "reservations_conferences")
        hold_columns = _columns(connection, "reservations_site_holds")
        conference = _template(connection, "reservations_conferences", conference_columns)
        hold = _template(connection, "reservations_site_holds", hold_columns)
    insert_conference = (
        f"INSERT INTO reservations_conferences ({', '.join(conference_columns)}) "
        f"VALUES ({', '.join(['%s'] * len(conference_columns))}) RETURNING id"
    )
    hold_values = f"({', '.join(['%s'] * len(hold_columns))})"
    insert_holds = [
        f"INSERT INTO reservations_site_holds ({', '.join(hold_columns)}) VALUES "
        + ", ".join([hold_values] * n)
        for n in range(per + 1)
    ]
    base = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=2)
    raw_sites = seed_data["sites"][clients * per :]
    connections = [psycopg.connect(database_url) for _ in range(clients)]

    def book(i: int, k: int) -> None:
        start, end = slot(base, k)
        row = {
            **conference,
            "number": f"R-{i:03d}-{k:09d}",
            "title": f"Raw {i}.{k}",
            "starts_at": start,
            "ends_at": end,
        }
        connection = connections[i]
        with connection.transaction():
            found = connection.execute(
                insert_conference, [row[c] for c in conference_columns]
            ).fetchone()
            assert found is not None
            values: list[Any] = []
            for site_id in raw_sites[i * per : (i + 1) * per]:
                held = {
                    **hold,
                    "conference_id": found[0],
                    "site_id": site_id,
                    "starts_at": start,
                    "ends_at": end,
                }
                values.extend(held[c] for c in hold_columns)
            connection.execute(insert_holds[per], values)

    try:
        run_for(2.0, clients, lambda i, k: book(i, 100_000 + k))
        return run_for(seconds, clients, book)
    finally:
        for connection in connections:
            connection.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=4, help="web worker processes")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each phase")
    parser.add_argument("--sites-per-booking", type=int, default=2)
    args = parser.parse_args()
    per = args.sites_per_booking

    with throwaway_database() as url:
        admin_email = "admin@bench.example"
        run_cli(url, "user", "add", admin_email, "--role", "admin", "--password", PASSWORD)
        with (
            tempfile.TemporaryDirectory() as log_dir,
            running_server(url, Path(log_dir), workers=args.workers) as server,
        ):
            seed_data = seed(server.base_url, admin_email, args.clients, per)
            api_count, api_seconds = bench_api(
                server.base_url, seed_data, args.clients, per, args.seconds
            )
        raw_count, raw_seconds = bench_raw(url, seed_data, args.clients, per, args.seconds)

    api_rate = api_count / api_seconds
    raw_rate = raw_count / raw_seconds
    print(f"bookings of {per} site(s), {args.clients} concurrent clients, PostgreSQL")
    print(
        f"  HTTP API ({args.workers} workers): {api_rate:8.1f} bookings/s "
        f"({api_count} in {api_seconds:.1f} s)"
    )
    print(
        f"  raw INSERTs ({args.clients} conns): {raw_rate:8.1f} bookings/s "
        f"({raw_count} in {raw_seconds:.1f} s)"
    )
    print(f"  ratio API / raw: {api_rate / raw_rate:.3f} (aim >= 0.3)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
