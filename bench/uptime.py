"""A year of minute-level probe history for 1,000 targets turned into a month's uptime
report, next to the time to merely read the stored intervals of that month.

    python bench/uptime.py [--targets 1000] [--days 365] [--seed 7]

Each target's year is one byte per minute (0 = answered, 1 = failed, 2 = no sample: the
prober was down, the same minutes for every target), with random failure bursts and lone
blips. The fold applies the prober's rule (two failures in a row open an outage at the first,
the next sample ends it) scanning every minute at C speed (a regular expression over the
bytes), so no sample is ever stored: only outage and monitored intervals go to the database
(a migrated SQLite file, the embedded default). Then the real `monthly_report` service builds
one month's report for the bridge component (union of all targets' outages, in the reporting
zone), and the baseline runs the same month's SELECTs of stored intervals without computing
anything. Prints each phase's time and the ratios.

The fold above is the prober's rule restated over bytes, to make a year of history in
seconds. The live path is measured too: the real `probe_round` service (one unit of work per
minute, bridges' answers collected, state folded, coverage extended) for --live-minutes
minutes of --live-bridges bridges, so the per-minute cost of the job itself is known.
"""

import argparse
import asyncio
import random
import re
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, insert

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bridgedesk.db import create_engine_for, database, sync_url
from bridgedesk.migrate import upgrade
from monitoring.models import MonitoredSpan, Outage
from monitoring.service import uptime
from monitoring.service.probing import ProbeOutcome, probe_round
from reservations.service import registry

YEAR_START = datetime(2026, 1, 1, tzinfo=UTC)
MONTH = "2026-06"
OUTAGE_RUNS = re.compile(rb"\x01\x01+")
WATCHED_RUNS = re.compile(rb"[^\x02]+")


def prober_gaps(rng: random.Random, minutes: int) -> list[tuple[int, int]]:
    """Times the prober itself was down: a dozen gaps of 10 minutes to 3 hours."""
    return [(s, s + rng.randint(10, 180)) for s in sorted(rng.sample(range(minutes - 200), 12))]


def target_year(rng: random.Random, minutes: int, gaps: list[tuple[int, int]]) -> bytearray:
    samples = bytearray(minutes)
    for _ in range(rng.randint(0, 3)):  # outages of 2 minutes to an hour
        start, length = rng.randrange(minutes - 130), rng.randint(2, 60)
        samples[start : start + length] = bytes([1]) * length
    for _ in range(rng.randint(100, 300)):  # lone blips: one failure, no outage
        samples[rng.randrange(minutes)] = 1
    for start, end in gaps:
        samples[start:end] = bytes([2]) * (end - start)
    return samples


def fold(samples: bytes) -> list[tuple[int, int]]:
    """The outages (start, end minute) the prober's hysteresis makes of a target's samples."""
    return [(m.start(), m.end()) for m in OUTAGE_RUNS.finditer(samples)]


def at(minute: int) -> datetime:
    return YEAR_START + timedelta(minutes=minute)


async def report_and_read(url: str) -> tuple[float, float, uptime.UptimeReport, int]:
    database.use(create_engine_for(url))
    year, month = uptime.parse_month(MONTH)
    span = uptime.month_span(year, month, uptime.reporting_zone())
    now = datetime(2027, 1, 1, tzinfo=UTC)
    best_report = best_read = float("inf")
    report = None
    rows = 0
    for _ in range(5):  # best of five: the first run also warms SQLite's page cache
        async with database.sessions() as session:
            began = time.perf_counter()
            report = await uptime.monthly_report(session, "bridge", MONTH, now=now)
            best_report = min(best_report, time.perf_counter() - began)
        async with database.sessions() as session:
            began = time.perf_counter()
            outages = await uptime.load_outages(session, "bridge", span)
            windows = await uptime.load_windows(session, "bridge", span)
            monitored = await uptime.load_monitored(session, "bridge", span)
            best_read = min(best_read, time.perf_counter() - began)
            rows = len(outages) + len(windows) + len(monitored)
    await database.dispose()
    assert report is not None
    return best_report, best_read, report, rows


class _Answers:
    """The bridge probe queue's interface, answering every probe at once (5 % failures)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.answers: dict[int, bool] = {}

    async def request(self, session: object, sip_uri: str) -> int:
        self.answers[len(self.answers) + 1] = self.rng.random() > 0.05
        return len(self.answers)

    async def collect(self, session: object, probe_ids: object) -> dict[int, ProbeOutcome]:
        return {i: ProbeOutcome(True, self.answers[i], "") for i in probe_ids}  # type: ignore[attr-defined]


async def live_path(url: str, minutes: int, bridges: int, rng: random.Random) -> float:
    database.use(create_engine_for(url))
    async with database.sessions() as session, session.begin():
        for number in range(bridges):
            await registry.create_bridge(
                session,
                registry.BridgeData(f"Bench {number}", f"sip:b{number}@10.0.0.2", 24, 4),
                by=None,
            )
    client = _Answers(rng)
    began = time.perf_counter()
    for minute in range(minutes):
        async with database.sessions() as session, session.begin():
            await probe_round(
                session,
                YEAR_START + timedelta(minutes=minute),
                client=client,  # type: ignore[arg-type]
                health=("http://127.0.0.1:8000/healthz", rng.random() > 0.01, "bench"),
            )
    elapsed = time.perf_counter() - began
    await database.dispose()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--targets", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--live-minutes", type=int, default=360)
    parser.add_argument("--live-bridges", type=int, default=10)
    args = parser.parse_args()
    minutes = args.days * 24 * 60
    rng = random.Random(args.seed)
    gaps = prober_gaps(rng, minutes)

    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'uptime.db'}"
        upgrade(url)
        engine = create_engine(sync_url(url))

        generate_s = fold_s = 0.0
        outages: list[dict[str, object]] = []
        watched: list[tuple[int, int]] = []
        for target in range(args.targets):
            began = time.perf_counter()
            samples = bytes(target_year(rng, minutes, gaps))
            generate_s += time.perf_counter() - began
            began = time.perf_counter()
            for start, end in fold(samples):
                outages.append(
                    {
                        "component": "bridge",
                        "target": f"sip:bridge{target}@10.0.0.1",
                        "source": "probe",
                        "started_at": at(start),
                        "ended_at": at(end),
                        "force_majeure": False,
                        "created_at": at(start),
                    }
                )
            if target == 0:  # the prober's own gaps are the same for every target
                watched = [(m.start(), m.end()) for m in WATCHED_RUNS.finditer(samples)]
            fold_s += time.perf_counter() - began

        began = time.perf_counter()
        with engine.begin() as connection:
            connection.execute(insert(Outage), outages)
            connection.execute(
                insert(MonitoredSpan),
                [
                    {"component": "bridge", "started_at": at(s), "ended_at": at(e)}
                    for s, e in watched
                ],
            )
        store_s = time.perf_counter() - began
        engine.dispose()

        report_s, read_s, report, rows = asyncio.run(report_and_read(url))
        live_url = f"sqlite:///{Path(folder) / 'live.db'}"
        upgrade(live_url)
        live_s = asyncio.run(live_path(live_url, args.live_minutes, args.live_bridges, rng))

    samples_total = args.targets * minutes
    print(f"history: {args.targets} targets x {args.days} days = {samples_total:,} samples")
    print(f"  generating the samples (not part of the pipeline): {generate_s:8.3f} s")
    print(f"  fold into intervals ({len(outages):,} outages):".ljust(52) + f"{fold_s:8.3f} s")
    print(f"  store the intervals:                                {store_s:8.3f} s")
    print(f"month {MONTH} report ({rows} stored intervals in the month):")
    print(
        f"  availability {report.availability_pct} %, downtime {report.downtime_minutes} min,"
        f" unmonitored {report.unmonitored_minutes} min"
    )
    print(f"  monthly_report (read + interval algebra):       {report_s * 1000:8.2f} ms")
    print(f"  baseline: merely read the stored intervals:      {read_s * 1000:8.2f} ms")
    print(f"  ratio report / read:                             {report_s / read_s:8.2f}")
    pipeline = fold_s + store_s + report_s
    print(f"from a year of samples to the month's report:      {pipeline:8.3f} s")
    print(f"  ratio to merely reading the month's intervals:   {pipeline / read_s:8.0f}")
    print(
        f"live job: {args.live_minutes} minute rounds x {args.live_bridges} bridges + health URL"
        f" through probe_round: {live_s:.2f} s, {live_s / args.live_minutes * 1000:.1f} ms a round"
    )


if __name__ == "__main__":
    main()
