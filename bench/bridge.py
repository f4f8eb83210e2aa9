"""The bridge under load: legs held at once, their cost, setup rate, probes and priority.

    python bench/bridge.py [--legs 500] [--processes 2] [--probes 1000] [--burst 200]

Creates a throwaway PostgreSQL database (beside BRIDGEDESK_TEST_PG) and runs the real engine
(`bridgedesk worker --sip-only`, PROCESSES pjsua2 processes) against sipp UASes on loopback
that answer at once and echo RTP. Four measures, in one run:

1. Legs held: LEGS calls queued as the legs of 10 conferences (a conference's calls live in
   one process and are mixed there), timed from the commit to the last `connected`; held
   20 s, then the SIP processes' CPU (from /proc, utime + stime) and RSS above their idle RSS
   are given per 100 legs. Beside the setup rate: sipp's own UAC -> UAS rate for the same
   number of calls against the same sipp, in this run (what a C stack does on this box).
2. PROBES INVITE site probes (answer, hang up) timed from the commit to the last result.
3. Priority: a 1-site conference connected, then BURST launch legs to a UDP port that never
   answers (in flight for 60 s) in 20 conferences; the site hangs up; the time from its BYE
   to the redial's INVITE (both stamped by the engine) and to connected again, with the
   launch and supervision jobs running in this process as the worker runs them.
Ends with one line: RESULT bridge <key>=<value> ...
"""

import argparse
import asyncio
import os
import socket
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from sqlalchemy import create_engine, func, pool, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bridge.models import Dial
from bridge.service.dials import request_dial
from bridge.service.probes import request_probe
from bridgedesk.db import create_engine_for, database, sync_url
from bridgedesk.settings import get_settings
from tests.conftest import create_pg_database, drop_pg_database
from tests.sip.conftest import RunningEngine, session_on, sip_engine
from tests.sip.sipp import LOOPBACK, run_uac, sipp_uas

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
HOLD_SECONDS = 20
CONFERENCES = 10


def _sql(url: str, query: str) -> list[tuple[object, ...]]:
    engine = create_engine(sync_url(url), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(query)).all()]
    finally:
        engine.dispose()


def _cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLOCK_TICKS


def _rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


def _wait(url: str, query: str, target: int, *, within: float, what: str) -> float:
    started = time.monotonic()
    last = started
    while True:
        [(count,)] = _sql(url, query)
        now = time.monotonic()
        if int(count) >= target:  # type: ignore[call-overload]
            return now - started
        if now - last >= 5:
            print(f"  {what}: {count}/{target} after {now - started:.0f} s", flush=True)
            last = now
        if now - started > within:
            raise SystemExit(f"gave up: {what} {count}/{target} after {within:.0f} s")
        time.sleep(0.2)


async def _queue_dials(url: str, uris: list[str]) -> None:
    async with session_on(url) as session:
        per = -(-len(uris) // CONFERENCES)
        for i, uri in enumerate(uris):
            await request_dial(
                session, sip_uri=uri, purpose="launch", conference_id=1_000_000 + i // per
            )


async def _redial(url: str, failed: list[tuple[object, ...]]) -> None:
    async with session_on(url) as session:
        for uri, conference_id in failed:
            await request_dial(session, sip_uri=str(uri), purpose="redial",
                               conference_id=int(str(conference_id)))  # fmt: skip


async def _hang_up_all(url: str) -> None:
    from bridge.service.dials import request_hangup

    async with session_on(url) as session:
        ids = (await session.scalars(select(Dial.id).where(Dial.status != "ended"))).all()
    for dial_id in sorted(ids):  # one short transaction each, as supervision would
        async with session_on(url) as session:
            await request_hangup(session, dial_id)


async def _queue_probes(url: str, uris: list[str]) -> None:
    async with session_on(url) as session:
        for uri in uris:
            await request_probe(session, sip_uri=uri, purpose="bench")


def held_legs(url: str, engine: RunningEngine, legs: int, peers: list) -> dict[str, float]:
    pids = engine.sip_pids()
    idle_rss = _rss_mb(pids)
    uris = [peers[i % len(peers)].uri(f"leg{i}") for i in range(legs)]
    asyncio.run(_queue_dials(url, uris))
    connected = "SELECT count(*) FROM bridge_dials WHERE status = 'connected'"
    settled = "SELECT count(*) FROM bridge_dials WHERE status IN ('connected', 'ended')"
    started = time.monotonic()
    redialed = 0
    for _round in range(3):  # a site that missed its INVITE is dialed again, as a leg would be
        _wait(url, settled, legs + redialed, within=120, what="legs settled")
        # The last dial of each site, if it ended (the far end did not answer in time).
        failed = _sql(
            url, "SELECT d.sip_uri, d.conference_id FROM bridge_dials d WHERE d.status = 'ended' "
                 "AND NOT EXISTS (SELECT 1 FROM bridge_dials n WHERE n.sip_uri = d.sip_uri "
                 "AND n.id > d.id)",
        )  # fmt: skip
        if not failed:
            break
        redialed += len(failed)
        asyncio.run(_redial(url, failed))
    seconds = time.monotonic() - started
    cpu_before, wall_before = _cpu_seconds(pids), time.monotonic()
    time.sleep(HOLD_SECONDS)
    cpu = (_cpu_seconds(pids) - cpu_before) / (time.monotonic() - wall_before) * 100
    [(still,)] = _sql(url, connected)
    rss = _rss_mb(pids)
    homes = _sql(url, "SELECT count(DISTINCT claimed_by) FROM bridge_dials "
                      "WHERE status = 'connected' GROUP BY conference_id")  # fmt: skip
    asyncio.run(_hang_up_all(url))
    _wait(url, "SELECT count(*) FROM bridge_dials WHERE status = 'ended'", legs + redialed,
          within=60, what="legs hung up")  # fmt: skip
    time.sleep(2)  # the BYEs' answers free pjsua's slots
    return {
        "legs_redialed": redialed,
        "legs_held": int(still),  # type: ignore[call-overload]
        "connect_s": seconds,
        "legs_per_s": legs / seconds,
        "cpu_pct_per_100": cpu / legs * 100,
        "rss_mb_per_100": (rss - idle_rss) / legs * 100,
        "rss_mb": rss,
        "split_conferences": sum(1 for (n,) in homes if int(str(n)) > 1),
    }


def probes(url: str, count: int, peers: list) -> dict[str, float]:
    uris = [peers[i % len(peers)].uri(f"probe{i}") for i in range(count)]
    asyncio.run(_queue_probes(url, uris))
    done = "SELECT count(*) FROM bridge_probe_results"
    seconds = _wait(url, done, count, within=300, what="probes")
    [(ok,)] = _sql(url, "SELECT count(*) FROM bridge_probe_results WHERE cause = 'ok'")
    return {"probes_s": seconds, "probes_ok": int(ok)}  # type: ignore[call-overload]


async def priority(url: str, burst: int) -> dict[str, float]:
    from tests.sip.conferences import book_now, hang_up, run_jobs_until

    with (
        sipp_uas("answer_then_bye", pause_ms=15_000) as site,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink,
    ):
        sink.bind((LOOPBACK, 0))
        dark = sink.getsockname()[1]
        watched = await book_now(url, [{"name": "Dropper", "sip_uri": site.uri("dropper")}])
        [first] = await run_jobs_until(
            url, watched, lambda ls: ls[0].state == "connected", within=20, what="connected"
        )
        per = burst // 20
        bursts = []
        for c in range(20):
            dark_sites = [
                {"name": f"Dark {c}-{i}", "sip_uri": f"sip:d{c}x{i}@{LOOPBACK}:{dark}"}
                for i in range(per)
            ]
            bursts.append(await book_now(url, dark_sites))
        [back] = await run_jobs_until(
            url, watched,
            lambda ls: ls[0].state == "connected"
            and ls[0].connected_at not in (None, first.connected_at),
            within=40, what="dropped and connected again",
        )  # fmt: skip
        async with session_on(url) as session:
            in_flight = await session.scalar(
                select(func.count(Dial.id)).where(
                    Dial.sip_uri.like(f"%:{dark}"), Dial.status == "dialing"
                )
            )
            bye, redial = (
                await session.scalars(select(Dial).where(Dial.leg_id == back.id).order_by(Dial.id))
            ).all()[:2]
        await hang_up(url, watched, *bursts)
    assert bye.ended_at and redial.dialed_at and back.connected_at
    return {
        "bye_to_invite_s": (redial.dialed_at - bye.ended_at).total_seconds(),
        "bye_to_connected_s": (back.connected_at - bye.ended_at).total_seconds(),
        "burst_in_flight": int(in_flight or 0),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--legs", type=int, default=500)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--probes", type=int, default=1000)
    parser.add_argument("--burst", type=int, default=200)
    args = parser.parse_args()

    url = create_pg_database("bridgedesk_bench_bridge")
    results: dict[str, float] = {}
    try:
        with ExitStack() as stack:
            peers = [
                stack.enter_context(sipp_uas("answer", pause_ms=0, max_seconds=1800))
                for _ in range(4)
            ]
            env = {
                # The production pacing (the tests' harness paces at 20 a second).
                "BRIDGEDESK_SIP_DIALS_PER_SECOND": str(get_settings().sip_dials_per_second),
                "BRIDGEDESK_SIP_ANSWER_TIMEOUT_SECONDS": "60",
                "BRIDGEDESK_SIP_LEASE_SECONDS": "15",
                "BRIDGEDESK_SIP_POLL_SECONDS": "0.1",
                "BRIDGEDESK_NO_MEDIA_SECONDS": "30",
            }
            engine = stack.enter_context(sip_engine(url, processes=args.processes, env=env))
            print(f"engine: {args.processes} SIP processes; 4 sipp endpoints", flush=True)
            results |= held_legs(url, engine, args.legs, peers)
            print(f"held: {results}", flush=True)
            baseline = run_uac(peers[0], calls=args.legs, rate=10_000, limit=args.legs)
            results["sipp_calls_per_s"] = baseline.per_second
            results |= probes(url, args.probes, peers)
            print(f"probes: {results['probes_s']:.1f} s", flush=True)
            for name, value in {
                "BRIDGEDESK_DATABASE_URL": url,
                "BRIDGEDESK_RECOVERY_WINDOW_SECONDS": "300",
            }.items():
                os.environ[name] = value
            get_settings.cache_clear()
            database.use(create_engine_for(url))
            results |= asyncio.run(priority(url, args.burst))
            log = engine.log.read_text(errors="replace")
            results["etoomany"] = log.count("ETOOMANY")
            results["restarts"] = engine.listening() - args.processes
    finally:
        asyncio.run(database.dispose())
        drop_pg_database(url)

    print()
    print(f"legs held at once: {results['legs_held']:.0f} of {args.legs} with {args.processes} "
          f"processes (target >= 500); conferences split over processes: "
          f"{results['split_conferences']:.0f}")  # fmt: skip
    print(f"per 100 legs: {results['cpu_pct_per_100']:.2f} % of a core, "
          f"{results['rss_mb_per_100']:.1f} MB RSS (total {results['rss_mb']:.0f} MB)")  # fmt: skip
    print(f"setup: {results['legs_per_s']:.1f} legs/s connected; sipp UAC -> UAS "
          f"{results['sipp_calls_per_s']:.1f} calls/s; ratio "
          f"{results['legs_per_s'] / results['sipp_calls_per_s']:.3f}")  # fmt: skip
    print(f"{args.probes} site probes: {results['probes_s']:.1f} s (target < 15 s), "
          f"{results['probes_ok']:.0f} ok")  # fmt: skip
    print(f"BYE -> redial INVITE {results['bye_to_invite_s']:.3f} s (target < 2 s), connected "
          f"again {results['bye_to_connected_s']:.3f} s, with {results['burst_in_flight']:.0f} "
          f"launches to an unreachable site in flight")  # fmt: skip
    print("RESULT bridge " + " ".join(
        f"{key}={value:.3f}" if isinstance(value, float) else f"{key}={value}"
        for key, value in results.items()
    ))  # fmt: skip
    ok = (
        results["legs_held"] >= min(500, args.legs)
        and results["probes_s"] < 15
        and results["bye_to_invite_s"] < 2
        and results["etoomany"] == 0
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
