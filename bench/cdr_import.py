"""Call detail records imported through the HTTP API next to raw INSERTs of the same rows.

    python bench/cdr_import.py [--batches 5] [--records 10000]

Creates a throwaway PostgreSQL database (beside BRIDGEDESK_TEST_PG, default
postgresql://postgres@127.0.0.1:5432/test), runs the real `bridgedesk serve` on it, records a
held conference of two sites as an operator, and posts BATCHES batches of RECORDS records each
to `POST /api/v1/cdrs` (every record validated, checked for duplicates and overlaps in the
batch and against what is stored, then inserted under the exclusion constraint). The server is
stopped and the baseline runs: the same number of rows, each batch one transaction of a plain
multi-row INSERT (psycopg `executemany`) into the same table under the same constraint.
Prints both rates (records/s) and their ratio; drops the database at the end.
"""

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.booking import throwaway_database
from tests.server_process import run_cli, running_server

PASSWORD = "bench-password"
OPERATOR = "operator@bench.example"
# Records start here and go back to back, one second each, alternating two sites.
EPOCH = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)


def _ok(response: httpx.Response) -> Any:
    if response.status_code not in (200, 201):
        raise RuntimeError(f"{response.request.url}: {response.status_code} {response.text[:500]}")
    return response.json()


def batch(number: str, sites: list[int], first: int, count: int) -> list[dict[str, Any]]:
    out = []
    for i in range(first, first + count):
        start = EPOCH + timedelta(seconds=i // 2)
        out.append(
            {
                "conference_number": number,
                "site_id": sites[i % 2],
                "connected_at": start.isoformat(),
                "disconnected_at": (start + timedelta(seconds=1)).isoformat(),
                "speed_kbps": 768,
            }
        )
    return out


def setup(base_url: str) -> tuple[httpx.Client, str, int, list[int]]:
    api = httpx.Client(base_url=base_url, timeout=120)
    token = _ok(api.post("/api/v1/auth/token", json={"email": OPERATOR, "password": PASSWORD}))
    api.headers["Authorization"] = f"Bearer {token['access_token']}"
    customer = _ok(api.post("/api/v1/customers", json={"name": "Bench", "timezone": "UTC"}))["id"]
    sites = [
        _ok(
            api.post(
                "/api/v1/sites",
                json={
                    "customer_id": customer,
                    "name": f"Room {n}",
                    "kind": "room",
                    "timezone": "UTC",
                    "sip_uri": f"sip:room{n}@127.0.0.1",
                    "max_speed_kbps": 768,
                    "billing_zone": "US",
                },
            )
        )["id"]
        for n in (1, 2)
    ]
    held = _ok(
        api.post(
            "/api/v1/conferences",
            json={
                "customer_id": customer,
                "title": "Held on an external MCU",
                "leader_name": "Lee",
                "start": EPOCH.isoformat(),
                "end": (EPOCH + timedelta(hours=24)).isoformat(),
                "sites": [{"site_id": s} for s in sites],
                "record": True,
            },
        )
    )
    return api, held["number"], held["id"], sites


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--records", type=int, default=10_000)
    args = parser.parse_args()
    total = args.batches * args.records
    with (
        throwaway_database("bridgedesk_bench_cdr") as url,
        tempfile.TemporaryDirectory() as log_dir,
    ):
        run_cli(url, "migrate")
        run_cli(url, "user", "add", OPERATOR, "--role", "operator", "--password", PASSWORD)
        with running_server(url, Path(log_dir)) as server:
            api, number, conference_id, sites = setup(server.base_url)
            # Warm-up: one small batch, far away from the measured records.
            _ok(api.post("/api/v1/cdrs", json={"records": batch(number, sites, 2 * total, 100)}))
            bodies = [
                {"records": batch(number, sites, b * args.records, args.records)}
                for b in range(args.batches)
            ]
            started = time.perf_counter()
            for body in bodies:
                assert _ok(api.post("/api/v1/cdrs", json=body))["stored"] == args.records
            api_seconds = time.perf_counter() - started
            api.close()
        with psycopg.connect(url) as raw:
            customer_id, bridge_id = raw.execute(
                "SELECT customer_id, bridge_id FROM reservations_conferences WHERE id = %s",
                (conference_id,),
            ).fetchone()  # type: ignore[misc]
            raw.commit()
            offset = 2 * total + 10**6  # after everything the API stored
            started = time.perf_counter()
            for b in range(args.batches):
                rows = []
                for i in range(offset + b * args.records, offset + (b + 1) * args.records):
                    start = EPOCH + timedelta(seconds=i // 2)
                    rows.append(
                        (conference_id, number, customer_id, sites[i % 2], bridge_id, start,
                         start + timedelta(seconds=1), 768, None, "import", datetime.now(UTC))
                    )  # fmt: skip
                with raw.cursor() as cursor:
                    cursor.executemany(
                        "INSERT INTO bridge_call_records (conference_id, conference_number, "
                        "customer_id, site_id, bridge_id, connected_at, disconnected_at, "
                        "speed_kbps, disconnect_cause, source, created_at) "
                        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                        rows,
                    )
                raw.commit()
            raw_seconds = time.perf_counter() - started
    api_rate, raw_rate = total / api_seconds, total / raw_seconds
    print(f"records: {args.batches} batches x {args.records}")
    print(f"API import: {api_rate:,.0f} records/s ({api_seconds:.2f} s)")
    print(f"raw INSERT: {raw_rate:,.0f} records/s ({raw_seconds:.2f} s)")
    print(f"ratio API / raw: {api_rate / raw_rate:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
