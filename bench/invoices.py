"""Drafting a month's invoices next to one SQL aggregate over the same call records.

    python bench/invoices.py [--customers 200] [--conferences 100000] [--legs-per-conference 4]

Creates a throwaway PostgreSQL database (beside BRIDGEDESK_TEST_PG, default
postgresql://postgres@127.0.0.1:5432/test), migrates it, and bulk-loads with COPY: CUSTOMERS
customers in a spread of time zones, each with 4 sites in two billing zones and a rate plan;
CONFERENCES conferences in October 2026 (back to back per customer, so no site is held or
connected twice at once), each holding its 4 sites; and LEGS-PER-CONFERENCE call records per
conference (speeds across all five tiers, a drop and reconnect in every fourth conference).

Then it times
- **draft**: `billing.service.drafting.run_month("2026-10")` for every customer, in one unit of
  work, exactly as the monthly job and `bridgedesk invoices run` do (read conferences, records
  and plans; rate every leg; write one draft per customer with its full document);
- **aggregate**: one SQL statement over the same legs: per customer, the sum of each leg's
  rounded-up minutes times its rate (tier price by speed x zone multiplier + surcharge).
Prints both times and draft / aggregate, checks that each customer's invoice total is within
rounding of the aggregate, and drops the database.
"""

import argparse
import asyncio
import json
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.booking import throwaway_database

PERIOD = "2026-10"
ZONES = ["America/New_York", "Europe/London", "Asia/Tokyo", "Pacific/Kiritimati", "UTC"]
TIERS = [(384, "0.10"), (768, "0.20"), (1536, "0.35"), (2048, "0.50"), (None, "0.80")]
SPEEDS = [384, 768, 1536, 2048, 4096]
PLAN_ZONES = {
    "US": {"multiplier": "1", "surcharge_per_minute": "0"},
    "EU": {"multiplier": "1.5", "surcharge_per_minute": "0.05"},
}
FEATURES = [
    {"code": "REC", "name": "Recording", "per": "conference", "price": "5.00"},
    {"code": "TRN", "name": "Transcription", "per": "minute", "price": "0.015"},
    {"code": "HD", "name": "HD video", "per": "site", "price": "2.50"},
]


def _copy(cursor: psycopg.Cursor, table: str, columns: list[str], rows: list[tuple]) -> None:
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def load(url: str, customers: int, conferences: int, legs_per_conference: int) -> int:
    """Bulk-load the month; returns the number of call records written."""
    rng = random.Random(7)
    now = datetime.now(UTC)
    month_start = datetime(2026, 10, 2, 0, 0, tzinfo=UTC)  # inside October in every zone
    per_customer = conferences // customers
    # Back to back: 80-minute slots; 500 a customer fit in 28 days.
    slot = timedelta(minutes=80)
    with psycopg.connect(url) as connection, connection.cursor() as cursor:
        _copy(
            cursor,
            "reservations_customers",
            ["id", "name", "timezone", "billing_emails", "created_at"],
            [
                (c, f"Customer {c}", ZONES[c % len(ZONES)], json.dumps([f"ap{c}@x.example"]), now)
                for c in range(1, customers + 1)
            ],
        )
        _copy(
            cursor,
            "bridgedesk_users",
            ["id", "email", "name", "password_hash", "role", "customer_id", "active", "created_at"],
            [
                (c, f"s{c}@x.example", f"Scheduler {c}", "x", "scheduler", c, True, now)
                for c in range(1, customers + 1)
            ],
        )
        sites = []
        for c in range(1, customers + 1):
            for s in range(4):
                sites.append(
                    (
                        (c - 1) * 4 + s + 1,
                        c,
                        f"Site {c}-{s}",
                        "room",
                        "UTC",
                        "sip:x@127.0.0.1",
                        4096,
                        "US" if s % 2 == 0 else "EU",
                        "[]",
                        "certified",
                        now,
                    )
                )
        _copy(
            cursor,
            "reservations_sites",
            [
                "id",
                "customer_id",
                "name",
                "kind",
                "timezone",
                "sip_uri",
                "max_speed_kbps",
                "billing_zone",
                "contacts",
                "certification_state",
                "created_at",
            ],
            sites,
        )
        tiers = json.dumps([{"up_to_kbps": up, "per_minute": p} for up, p in TIERS])
        _copy(
            cursor,
            "billing_rate_plans",
            [
                "customer_id",
                "currency",
                "effective_from",
                "speed_tiers",
                "zones",
                "features",
                "created_at",
                "created_by",
            ],
            [
                (
                    c,
                    "USD",
                    "2026-01-01",
                    tiers,
                    json.dumps(PLAN_ZONES),
                    json.dumps(FEATURES),
                    now,
                    "bench",
                )
                for c in range(1, customers + 1)
            ],
        )
        conference_rows, holds, records = [], [], []
        conference_id = 0
        for c in range(1, customers + 1):
            for k in range(per_customer):
                conference_id += 1
                start = month_start + k * slot
                end = start + timedelta(hours=1)
                features = json.dumps([FEATURES[k % 3]["code"]])  # one of each per in turn
                conference_rows.append(
                    (
                        conference_id,
                        f"C-2026-{conference_id:07d}",
                        c,
                        "Bench",
                        "Lee",
                        c,
                        "Scheduler",
                        "PRJ",
                        features,
                        start,
                        end,
                        "ended",
                        False,
                        start - timedelta(days=2),
                        False,
                        False,
                    )
                )
                site_ids = [(c - 1) * 4 + s + 1 for s in range(4)]
                for site_id in site_ids:
                    holds.append((conference_id, site_id, 2048, start, end, True))
                # Legs: one per site; every fourth conference, the first site drops at
                # 20 minutes and reconnects (two records), and the last site never connects.
                legs: list[tuple[int, datetime, datetime]] = []
                for site_id in site_ids[:legs_per_conference]:
                    at = start + timedelta(seconds=rng.randint(0, 90))
                    length = timedelta(seconds=rng.randint(30 * 60, 65 * 60))
                    legs.append((site_id, at, at + length))
                if k % 4 == 0 and legs_per_conference >= 2:
                    site_id, at, until = legs[0]
                    drop = at + timedelta(minutes=20)
                    legs[0] = (site_id, at, drop)
                    legs[-1] = (site_id, drop + timedelta(seconds=45), until)
                for site_id, at, until in legs:
                    records.append(
                        (
                            conference_id,
                            f"C-2026-{conference_id:07d}",
                            c,
                            site_id,
                            at,
                            until,
                            rng.choice(SPEEDS),
                            "normal",
                            "bridge",
                            now,
                        )
                    )
        _copy(
            cursor,
            "reservations_conferences",
            [
                "id",
                "number",
                "customer_id",
                "title",
                "leader_name",
                "requester_id",
                "requester_name",
                "project_code",
                "features",
                "starts_at",
                "ends_at",
                "status",
                "recorded",
                "booked_at",
                "adhoc",
                "overflow",
            ],
            conference_rows,
        )
        _copy(
            cursor,
            "reservations_site_holds",
            ["conference_id", "site_id", "speed_kbps", "starts_at", "ends_at", "held"],
            holds,
        )
        _copy(
            cursor,
            "bridge_call_records",
            [
                "conference_id",
                "conference_number",
                "customer_id",
                "site_id",
                "connected_at",
                "disconnected_at",
                "speed_kbps",
                "disconnect_cause",
                "source",
                "created_at",
            ],
            records,
        )
        for table in (
            "reservations_customers",
            "bridgedesk_users",
            "reservations_sites",
            "reservations_conferences",
        ):
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        connection.commit()
        cursor.execute("ANALYZE")
    return len(records)


# The baseline: the same rating rule for site minutes, as one statement (no features, no
# per-line rounding, no documents). Tier prices and zones are the bench plan's.
AGGREGATE = """
SELECT r.customer_id,
       sum(ceil(extract(epoch FROM r.disconnected_at - r.connected_at) / 60)
           * (CASE WHEN r.speed_kbps <= 384 THEN 0.10
                   WHEN r.speed_kbps <= 768 THEN 0.20
                   WHEN r.speed_kbps <= 1536 THEN 0.35
                   WHEN r.speed_kbps <= 2048 THEN 0.50
                   ELSE 0.80 END
              * CASE s.billing_zone WHEN 'EU' THEN 1.5 ELSE 1 END
              + CASE s.billing_zone WHEN 'EU' THEN 0.05 ELSE 0 END)) AS amount
FROM bridge_call_records r
JOIN reservations_sites s ON s.id = r.site_id
JOIN reservations_conferences c ON c.id = r.conference_id
JOIN reservations_customers cu ON cu.id = c.customer_id
WHERE c.starts_at >= (date_trunc('month', %(month)s::timestamp) AT TIME ZONE cu.timezone)
  AND c.starts_at < ((date_trunc('month', %(month)s::timestamp) + interval '1 month')
                     AT TIME ZONE cu.timezone)
GROUP BY r.customer_id
"""


def aggregate(url: str) -> tuple[float, dict[int, Decimal]]:
    with psycopg.connect(url) as connection:
        started = time.perf_counter()
        rows = connection.execute(AGGREGATE, {"month": f"{PERIOD}-01"}).fetchall()
        return time.perf_counter() - started, {row[0]: Decimal(row[1]) for row in rows}


async def draft(url: str) -> tuple[float, dict[int, Decimal], int]:
    os.environ["BRIDGEDESK_DATABASE_URL"] = url
    from billing.models import Invoice
    from billing.service import drafting
    from billing.service.rating import from_minor
    from bridgedesk.db import database, unit_of_work

    started = time.perf_counter()

    def progress(message: str) -> None:
        print(f"  {time.perf_counter() - started:7.2f} s  {message}")

    async with unit_of_work() as session:
        result = await drafting.run_month(session, PERIOD, by=None, progress=progress)
    elapsed = time.perf_counter() - started
    print(f"  {elapsed:7.2f} s  committed")
    # Site lines only, to compare with the aggregate (which knows nothing of features).
    from sqlalchemy import select

    sites: dict[int, Decimal] = {}
    async with unit_of_work() as session:
        for invoice in await session.scalars(select(Invoice)):
            sites[invoice.customer_id] = sum(
                (
                    Decimal(site["charges"])
                    for conference in invoice.document["conferences"]
                    for site in conference["sites"]
                ),
                Decimal(0),
            )
            assert from_minor(invoice.total_minor, "USD") == Decimal(invoice.document["total"])
    await database.dispose()
    return elapsed, sites, result.conferences


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--conferences", type=int, default=100_000)
    parser.add_argument("--legs-per-conference", type=int, default=4)
    args = parser.parse_args()
    with throwaway_database("bridgedesk_bench_invoices") as url:
        from bridgedesk.migrate import upgrade

        upgrade(url)
        started = time.perf_counter()
        legs = load(url, args.customers, args.conferences, args.legs_per_conference)
        print(
            f"loaded {args.conferences} conferences, {legs} call records for "
            f"{args.customers} customers in {time.perf_counter() - started:.1f} s"
        )
        aggregate_seconds, expected = aggregate(url)
        draft_seconds, drafted, conferences = asyncio.run(draft(url))
        # The aggregate again, after the draft: a warm cache for both, the better of two.
        aggregate_seconds = min(aggregate_seconds, aggregate(url)[0])
        assert conferences == args.conferences, conferences
        worst = max(abs(drafted[c] - expected[c]) for c in expected)
        # Each site line is rounded once: the invoice may differ by half a cent per line.
        lines_per_customer = args.conferences // args.customers * 4
        assert worst <= Decimal("0.005") * lines_per_customer, worst
        print(
            f"draft all invoices:   {draft_seconds:8.2f} s  ({conferences} conferences, "
            f"{legs} legs, {len(drafted)} invoices)"
        )
        print(f"one SQL aggregate:    {aggregate_seconds:8.2f} s")
        print(f"draft / aggregate:    {draft_seconds / aggregate_seconds:8.1f}")
        print(f"largest difference of site charges per customer vs. the aggregate: {worst} USD")


if __name__ == "__main__":
    main()
