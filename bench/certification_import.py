"""A rollout's CSV import through the HTTP API next to the raw INSERTs of the same rows.

    python bench/certification_import.py [--rows 1000] [--repeat 3]

Creates a throwaway PostgreSQL database (beside BRIDGEDESK_TEST_PG), runs the real
`bridgedesk serve` on it and posts a CSV of ROWS complete sites (`POST /api/v1/sites/import`:
every row validated, then all sites, their certification records with rollout deadlines and
three audit rows each written in one transaction). The baseline writes the same rows with
psycopg `executemany` in one transaction: the site rows, one certification record each, three
history rows each. Each side runs REPEAT times (a new customer each time); the best times and
their ratio are printed.
"""

import argparse
import csv
import io
import json
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.booking import PASSWORD, _created, _token, throwaway_database
from tests.server_process import run_cli, running_server

COLUMNS = [
    "name",
    "kind",
    "timezone",
    "sip_uri",
    "max_speed_kbps",
    "billing_zone",
    "contact_name",
    "contact_email",
]


def rollout_csv(rows: int) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for n in range(rows):
        writer.writerow(
            [
                f"Branch {n:05d}",
                "external",
                "America/Chicago",
                f"sip:branch{n}@10.0.0.1",
                768,
                "US",
                f"Tech {n}",
                f"tech{n}@customer.example",
            ]
        )
    return out.getvalue().encode()


def bench_api(client: httpx.Client, rows: int) -> float:
    customer = _created(
        client.post(
            "/api/v1/customers", json={"name": f"C {uuid.uuid4().hex[:8]}", "timezone": "UTC"}
        )
    )
    body = rollout_csv(rows)
    started = time.perf_counter()
    answer = client.post(
        f"/api/v1/sites/import?customer_id={customer['id']}",
        content=body,
        headers={"Content-Type": "text/csv"},
    )
    elapsed = time.perf_counter() - started
    assert _created(answer)["imported"] == rows
    return elapsed


def bench_raw(url: str, rows: int) -> float:
    now = datetime.now(UTC)
    with psycopg.connect(url) as connection:
        customer_id = connection.execute(
            "INSERT INTO reservations_customers (name, timezone, billing_emails, created_at)"
            " VALUES (%s, 'UTC', '[]', %s) RETURNING id",
            (f"Raw {uuid.uuid4().hex[:8]}", now),
        ).fetchone()[0]  # type: ignore[index]
        connection.commit()
        started = time.perf_counter()
        with connection.transaction(), connection.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO reservations_sites (customer_id, name, kind, timezone, sip_uri,"
                " max_speed_kbps, billing_zone, contacts, certification_state, created_at)"
                " VALUES (%s, %s, 'external', 'America/Chicago', %s, 768, 'US', %s,"
                " 'registered', %s) RETURNING id",
                [
                    (
                        customer_id,
                        f"Branch {n:05d}",
                        f"sip:branch{n}@10.0.0.1",
                        json.dumps([{"name": f"Tech {n}", "email": f"tech{n}@customer.example"}]),
                        now,
                    )
                    for n in range(rows)
                ],
                returning=True,
            )
            ids = []
            while True:
                ids.append(cursor.fetchone()[0])  # type: ignore[index]
                if not cursor.nextset():
                    break
            cursor.executemany(
                "INSERT INTO certification_records (site_id, customer_id, state,"
                " info_received_at, deadline_kind, rollout_position, certify_by, deadline_from,"
                " created_at) VALUES (%s, %s, 'registered', %s, 'first', %s, %s, %s, %s)",
                [
                    (
                        site_id,
                        customer_id,
                        now,
                        k + 1,
                        now + timedelta(hours=24 + 48 * (k // 75)),
                        now,
                        now,
                    )
                    for k, site_id in enumerate(ids)
                ],
            )
            cursor.executemany(
                "INSERT INTO certification_history (site_id, at, actor, field, before, after)"
                " VALUES (%s, %s, 'bench', %s, NULL, %s)",
                [
                    (site_id, now, field, "x")
                    for site_id in ids
                    for field in ("site", "info_received_at", "deadline")
                ],
            )
        return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with throwaway_database() as url, tempfile.TemporaryDirectory() as logs:
        run_cli(url, "migrate")
        email = f"tech-{uuid.uuid4().hex[:6]}@bench.example"
        run_cli(url, "user", "add", email, "--role", "admin", "--password", PASSWORD)
        with (
            running_server(url, Path(logs)) as server,
            httpx.Client(base_url=server.base_url, timeout=120) as client,
        ):
            client.headers["Authorization"] = f"Bearer {_token(client, email)}"
            api = min(bench_api(client, args.rows) for _ in range(args.repeat))
        raw = min(bench_raw(url, args.rows) for _ in range(args.repeat))
    print(f"API import of {args.rows} sites: {api:.2f} s ({args.rows / api:.0f} sites/s)")
    print(f"raw INSERTs of the same rows:   {raw:.2f} s ({args.rows / raw:.0f} sites/s)")
    print(f"ratio API / raw: {api / raw:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
