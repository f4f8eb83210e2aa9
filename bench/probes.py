"""Call-setup probes per second through the SIP engine next to sipp's own UAC -> UAS rate.

    python bench/probes.py [--sites 1000] [--endpoints 4] [--processes 2] [--dials-per-second 10]

Creates a throwaway PostgreSQL database (beside BRIDGEDESK_TEST_PG), starts ENDPOINTS sipp
UASes on loopback that answer at once (200 OK with PCMU, RTP echoed), and the real engine
(`bridgedesk worker --sip-only` with PROCESSES pjsua2 processes, each at most 4 calls at once
and paced at DIALS_PER_SECOND INVITEs a second). Queues SITES INVITE probes spread over the
endpoints in one transaction (as a monitoring or certification job would), and times them
from the commit to the last result. The baseline, in the same run: sipp as UAC placing the
same number of calls against one of the same sipp UASes, at most PROCESSES x 4 at once and
no rate limit, i.e. what a C SIP stack does on this machine with the same concurrency.
Prints both rates, their ratio, and how long SITES probes took against the 5-minute window.
"""

import argparse
import asyncio
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from sqlalchemy import create_engine, pool, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bridge.service.probes import request_probe
from bridgedesk.db import sync_url
from tests.conftest import create_pg_database, drop_pg_database
from tests.sip.conftest import session_on, sip_engine
from tests.sip.sipp import run_uac, sipp_uas

WINDOW_SECONDS = 300  # SPEC §1: every site probed within the 5-minute window


async def _queue(url: str, uris: list[str]) -> list[int]:
    async with session_on(url) as session:
        return [(await request_probe(session, sip_uri=uri, purpose="bench")).id for uri in uris]


def _counts(url: str) -> dict[str, int]:
    engine = create_engine(sync_url(url), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            done = connection.execute(
                text(
                    "SELECT r.cause, count(*) FROM bridge_probes p "
                    "JOIN bridge_probe_results r ON r.probe_id = p.id "
                    "WHERE p.purpose = 'bench' GROUP BY r.cause"
                )
            ).all()
    finally:
        engine.dispose()
    return {cause: n for cause, n in done}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=1000)
    parser.add_argument("--endpoints", type=int, default=4)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--dials-per-second", type=float, default=10.0)
    args = parser.parse_args()

    url = create_pg_database("bridgedesk_bench_probes")
    try:
        with ExitStack() as stack:
            peers = [
                stack.enter_context(sipp_uas("answer", pause_ms=0, max_seconds=900))
                for _ in range(args.endpoints)
            ]
            env = {
                "BRIDGEDESK_SIP_DIALS_PER_SECOND": str(args.dials_per_second),
                "BRIDGEDESK_SIP_ANSWER_TIMEOUT_SECONDS": "10",
                "BRIDGEDESK_SIP_LEASE_SECONDS": "15",
                "BRIDGEDESK_SIP_POLL_SECONDS": "0.1",
            }
            engine = stack.enter_context(sip_engine(url, processes=args.processes, env=env))
            uris = [peers[i % len(peers)].uri(f"site{i}") for i in range(args.sites)]
            print(
                f"engine: {args.processes} processes x 4 calls, "
                f"{args.dials_per_second:g} INVITEs/s each; {len(peers)} sipp endpoints",
                flush=True,
            )
            asyncio.run(_queue(url, uris))
            started = time.monotonic()
            last_report = started
            while True:
                counts = _counts(url)
                finished = sum(counts.values())
                now = time.monotonic()
                if finished >= args.sites:
                    break
                if now - last_report >= 5:
                    print(f"  {finished}/{args.sites} probes done after {now - started:.0f} s",
                          flush=True)  # fmt: skip
                    last_report = now
                if now - started > WINDOW_SECONDS * 2:
                    print(f"gave up: {finished}/{args.sites} after {now - started:.0f} s")
                    return 1
                time.sleep(0.2)
            engine_seconds = time.monotonic() - started
            restarts = engine.listening() - args.processes

            limit = args.processes * 4
            baseline = run_uac(peers[0], calls=args.sites, rate=10_000, limit=limit)
    finally:
        drop_pg_database(url)

    engine_rate = args.sites / engine_seconds
    ok = counts.get("ok", 0)
    print()
    print(f"engine: {args.sites} probes in {engine_seconds:.1f} s = {engine_rate:.1f} setups/s "
          f"({ok} ok, others {dict((c, n) for c, n in counts.items() if c != 'ok')}, "
          f"{restarts} process restarts)")  # fmt: skip
    print(f"sipp:   {baseline.successful}/{baseline.calls} calls in {baseline.seconds:.1f} s = "
          f"{baseline.per_second:.1f} calls/s (UAC -> UAS, at most {limit} at once)")  # fmt: skip
    print(f"ratio engine / sipp: {engine_rate / baseline.per_second:.3f}")
    per_thousand = 1000 / engine_rate
    print(f"1,000 site probes take {per_thousand:.0f} s: "
          f"{'within' if per_thousand <= WINDOW_SECONDS else 'OUTSIDE'} the 5-minute window "
          f"({per_thousand / WINDOW_SECONDS:.0%} of it)")  # fmt: skip
    return 0 if ok == args.sites else 1


if __name__ == "__main__":
    sys.exit(main())
