"""`bridgedesk probe SIP_URI`: queue one probe, make sure an engine runs it, print the result."""

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bridge.service.probes import ProbeView

# A worker normally takes a probe within its poll interval; past this, the command starts
# a one-shot engine process of its own.
PICKUP_SECONDS = 1.5
# An unanswered INVITE takes up to the answer timeout (30 s by default): say so every second.
PROGRESS_EVERY = 1.0


class WaitProgress:
    """One line per `every` seconds while the probe runs, so a silent far end does not look
    like a hung command: how long it has waited, the probe's state, and the limit."""

    def __init__(self, limit_seconds: float, *, every: float = PROGRESS_EVERY) -> None:
        self.limit_seconds = limit_seconds
        self.every = every
        self._next = every

    def line(self, waited: float, status: str) -> str | None:
        """The line to print at `waited` seconds, or None if the last one is recent."""
        if waited < self._next:
            return None
        self._next = (int(waited / self.every) + 1) * self.every
        return f"  waiting {waited:4.0f} s (answer timeout {self.limit_seconds:.0f} s, {status})"


def add_probe_command(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    probe = commands.add_parser("probe", help="probe a SIP URI and print the result")
    probe.add_argument("sip_uri")
    probe.add_argument("--method", choices=["INVITE", "OPTIONS"], default="INVITE")
    probe.add_argument(
        "--hold", type=float, default=0.0, help="seconds to hold an answered call (media)"
    )
    probe.add_argument("--timeout", type=float, default=None, help="answer timeout, seconds")
    probe.set_defaults(run=probe_command)


def probe_command(args: argparse.Namespace) -> int:
    from bridgedesk.errors import DomainError
    from bridgedesk.migrate import upgrade
    from bridgedesk.settings import get_settings

    settings = get_settings()
    upgrade(settings.database_url)
    try:
        probe_id = asyncio.run(_queue(args))
    except DomainError as error:
        print(f"error: {error.detail}", file=sys.stderr)
        return 2
    print(f"probe {probe_id} queued: {args.method} {args.sip_uri}", flush=True)
    timeout = args.timeout or settings.sip_answer_timeout_seconds
    limit = time.monotonic() + timeout + args.hold + 20
    helper: subprocess.Popen[bytes] | None = None
    started = time.monotonic()
    progress = WaitProgress(timeout + args.hold)
    try:
        while True:
            view = asyncio.run(_read(probe_id))
            if view.result is not None:
                break
            if time.monotonic() > limit:
                print("error: no result in time (is the database reachable?)", file=sys.stderr)
                return 1
            waited = time.monotonic() - started
            line = progress.line(waited, view.status)
            if line is not None:
                print(line, flush=True)
            if view.status == "queued" and waited > PICKUP_SECONDS and helper is None:
                print("no SIP worker took it; running the engine here", flush=True)
                helper = subprocess.Popen(
                    [sys.executable, "-m", "bridge.engine.process", "--once"],
                    env={**os.environ, "BRIDGEDESK_DATABASE_URL": settings.database_url},
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            time.sleep(0.1)
    finally:
        if helper is not None and helper.poll() is None:
            helper.send_signal(signal.SIGTERM)
            try:
                helper.wait(timeout=15)
            except subprocess.TimeoutExpired:
                helper.kill()
    result = view.result
    print(f"result: {'PASS' if result.passed else 'FAIL'}  cause={result.cause}")
    print(f"  final status:   {result.final_status if result.final_status else '-'}")
    print(f"  detail:         {result.detail}")
    print(f"  first 1xx (ms): {_ms(result.provisional_ms)}")
    label = "round trip (ms):" if view.method == "OPTIONS" else "answer (ms):   "
    print(f"  {label} {_ms(result.answer_ms)}")
    if view.method == "INVITE":
        print(f"  codec:          {result.codec or '-'}")
        print(
            f"  media:          {result.media_seconds:.1f} s, "
            f"{result.rtp_packets_received} RTP packets"
        )
    print(f"  Call-ID:        {result.call_id or '-'}")
    return 0 if result.passed else 1


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


async def _queue(args: argparse.Namespace) -> int:
    from bridge.service.probes import request_probe
    from bridgedesk.db import database, unit_of_work

    try:
        async with unit_of_work() as session:
            view = await request_probe(
                session,
                sip_uri=args.sip_uri,
                method=args.method,
                hold_seconds=args.hold,
                purpose="cli",
                answer_timeout_seconds=args.timeout,
            )
        return view.id
    finally:
        await database.dispose()


async def _read(probe_id: int) -> "ProbeView":
    from bridge.service.probes import get_probe
    from bridgedesk.db import database, unit_of_work

    try:
        async with unit_of_work() as session:
            return await get_probe(session, probe_id)
    finally:
        await database.dispose()
