"""One SIP worker process (`python -m bridge.engine.process`): a pjsua2 endpoint on its own
thread, and this main thread claiming work from the database, handing it to the endpoint,
writing back what it reports and keeping its leases alive. The supervisor restarts it if it
dies; its claims then run out (or the supervisor takes them back at once)."""

import argparse
import contextlib
import ctypes
import logging
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from sqlalchemy.exc import SQLAlchemyError

from bridge.engine.claims import WorkItem
from bridge.engine.events import CallEnded, EngineEvent, PlaceCall
from bridge.engine.options import OptionsOutcome, send_options
from bridge.engine.results import OptionsDone
from bridge.engine.sip import SipEngine
from bridge.engine.work import WorkQueue, make_engine, owner_name
from bridgedesk.clock import utcnow
from bridgedesk.settings import Settings, get_settings
from bridgedesk.sip_uri import DialPolicy, UndialableUri

log = logging.getLogger("bridge.engine.process")

# Hang-up requests for live dials are looked for this often.
HANGUP_CHECK_SECONDS = 0.5
# After a database error the process waits this long before trying again (it keeps what the
# endpoint reported in memory meanwhile, so nothing is lost).
DB_RETRY_SECONDS = 1.0
_PR_SET_PDEATHSIG = 1
SLOW_STEP_SECONDS = 0.5


class WorkerProcess:
    def __init__(self, settings: Settings, *, once: bool = False) -> None:
        self.settings = settings
        # `bridgedesk probe`: take probes only, and exit when none is queued or running.
        self.once = once
        self.owner = owner_name()
        self.queue = WorkQueue(
            make_engine(settings.database_url),
            self.owner,
            lease_seconds=settings.sip_lease_seconds,
            max_attempts=settings.sip_probe_max_attempts,
        )
        self.events: queue.SimpleQueue[EngineEvent | OptionsDone] = queue.SimpleQueue()
        self.engine = SipEngine(
            bind_host=settings.sip_bind_host,
            ports=range(settings.sip_port_min, settings.sip_port_max + 1),
            max_calls=settings.sip_calls_per_process,
            dials_per_second=settings.sip_dials_per_second,
            dial_burst=settings.sip_dial_burst,
            emit=self.events.put,
        )
        self.options = ThreadPoolExecutor(settings.sip_options_in_flight, "sip-options")
        self.calls: dict[str, WorkItem] = {}  # dials and INVITE probes handed to the engine
        self.pings: dict[str, Future[OptionsOutcome]] = {}
        self.hangups_sent: set[str] = set()
        self.unwritten: list[EngineEvent | OptionsDone] = []
        self.stop = threading.Event()
        # Sites and probes were checked against the full policy when queued; here only what
        # the engine alone knows at dial time: the gateway and the denied networks.
        self.policy = DialPolicy.from_settings(settings)
        self.reserve = 0

    def run(self) -> int:
        thread = threading.Thread(target=self.engine.run, name="sip-endpoint", daemon=True)
        thread.start()
        self.engine.ready.wait(30)
        if self.engine.startup_error is not None or not self.engine.ready.is_set():
            log.error("SIP endpoint did not start: %s", self.engine.startup_error)
            return 3
        log.info("SIP worker %s listening on %s:%s", self.owner, self.settings.sip_bind_host,
                 self.engine.port)  # fmt: skip
        settings = self.settings
        # Recovery's reserve: at most a quarter of the slots (the wheel's 4 keep 1).
        self.reserve = min(settings.sip_recovery_reserve, self.engine.capacity // 4)
        log.info(
            "SIP worker %s holds up to %d calls (%s, pjsua2 %s, TLS %s); %d kept for recovery",
            self.owner, self.engine.capacity, self.engine.module, self.engine.version,
            "on" if self.engine.tls else "off", self.reserve,
        )  # fmt: skip
        try:
            self.queue.register(
                max_calls=self.engine.capacity,
                module=self.engine.module,
                version=self.engine.version,
                tls=self.engine.tls,
            )
        except SQLAlchemyError as error:  # beats register it again once the database answers
            log.warning("could not register: %s", type(error).__name__)
        now = time.monotonic()
        next_claim = next_renew = next_reap = next_hangups = now
        renew_every = settings.sip_lease_seconds / 3
        try:
            while not self.stop.is_set():
                if not thread.is_alive():
                    log.error("SIP endpoint thread ended; exiting so the supervisor restarts us")
                    return 4
                freed = self._collect(wait=min(settings.sip_poll_seconds, 0.05))
                now = time.monotonic()
                if freed:
                    next_claim = now  # a slot is free: refill it now, not at the next poll
                step_started = time.monotonic()
                try:
                    if self.unwritten:
                        self.queue.record(self.unwritten)
                        self.unwritten = []
                        _slow("record", step_started)
                    if now >= next_renew:
                        self.queue.beat(self.engine.held_calls)
                        if self.calls or self.pings:
                            self._drop_lost(self.queue.renew([*self.calls, *self.pings]))
                        next_renew = now + renew_every
                        _slow("renew", step_started)
                    if now >= next_hangups:
                        self._forward_hangups()
                        next_hangups = now + HANGUP_CHECK_SECONDS
                    if now >= next_reap:
                        self.queue.reap()
                        next_reap = now + settings.sip_lease_seconds / 2
                        _slow("reap", step_started)
                    if now >= next_claim:
                        claimed = self._claim()
                        _slow("claim", step_started)
                        next_claim = now + (0 if claimed else settings.sip_poll_seconds)
                        if self.once and not claimed and not self.calls and not self.pings:
                            return 0
                except SQLAlchemyError as error:
                    log.warning("database unavailable (%s); retrying", type(error).__name__)
                    time.sleep(DB_RETRY_SECONDS)
        finally:
            self._shutdown(thread)
        return 0

    def _collect(self, *, wait: float) -> int:
        """Take what the endpoint and the pings reported; returns how many slots it freed."""
        try:
            first = self.events.get(timeout=wait)
        except queue.Empty:
            first = None
        batch: list[EngineEvent | OptionsDone] = [] if first is None else [first]
        while True:
            try:
                batch.append(self.events.get_nowait())
            except queue.Empty:
                break
        for key, future in list(self.pings.items()):
            if not future.done():
                continue
            del self.pings[key]
            if future.cancelled():  # stopping: the claim is handed back instead
                continue
            error = future.exception()
            if error is None:
                batch.append(OptionsDone(key, future.result()))
            else:
                now = utcnow()
                failure = OptionsOutcome(now, now, None, None, None, "", f"not sent: {error}")
                batch.append(OptionsDone(key, failure))
        freed = 0
        for event in batch:
            if isinstance(event, CallEnded | OptionsDone):
                freed += 1
            if isinstance(event, CallEnded):
                self.calls.pop(event.key, None)
                self.hangups_sent.discard(event.key)
        self.unwritten += batch
        return freed

    def _claim(self) -> int:
        settings = self.settings
        # Only what a slot is free for: the library's limit, not the setting (see sip.py).
        call_slots = self.engine.capacity - max(len(self.calls), self.engine.library_calls())
        options_slots = settings.sip_options_in_flight - len(self.pings)
        items = self.queue.claim(
            call_slots=call_slots,
            options_slots=options_slots,
            reserve=self.reserve,
            dials=not self.once,
        )
        if items:
            log.info("claimed %s", ", ".join(f"{i.key}/c{i.work_class}" for i in items[:5]))
        for item in items:
            timeout = item.answer_timeout_seconds or settings.sip_answer_timeout_seconds
            try:
                # tel: numbers become the gateway's SIP URI here, at dial time.
                target = self.policy.dial_uri(item.sip_uri)
            except UndialableUri as refused:
                self._refuse(item, refused.detail)
                continue
            if item.method == "OPTIONS":
                self.pings[item.key] = self.options.submit(
                    send_options, target, timeout=timeout, bind_host=settings.sip_bind_host
                )
                continue
            self.calls[item.key] = item
            self.engine.place(
                PlaceCall(
                    item.key,
                    target,
                    answer_timeout=timeout,
                    hold_seconds=item.hold_seconds,
                    no_media_seconds=settings.no_media_seconds if item.kind == "dial" else 0.0,
                    group=item.conference_id,
                    work_class=item.work_class,
                )
            )
        return len(items)

    def _refuse(self, item: WorkItem, reason: str) -> None:
        """A URI the dial policy refuses ends its work item with the reason, no INVITE sent;
        the rest of the batch goes on."""
        log.warning("not dialing %s: %s", item.key, reason)
        now = utcnow()
        if item.method == "OPTIONS":
            outcome = OptionsOutcome(now, now, None, None, None, "", f"not sent: {reason}")
            self.events.put(OptionsDone(item.key, outcome))
            return
        self.calls[item.key] = item  # freed again when its CallEnded is collected
        reason_code = "undialable" if item.kind == "dial" else "failed"
        self.events.put(
            CallEnded(item.key, now, now, False, None, None, None, None, None, 0.0, 0, None,
                      reason_code, f"not dialed: {reason}"[:300])
        )  # fmt: skip

    def _drop_lost(self, lost: set[str]) -> None:
        """Work whose claim ran out (this process was cut off from the database for longer
        than its lease) belongs to someone else now: a call for it is hung up, not kept."""
        for key in lost:
            if key in self.calls:
                log.warning("lost the claim on %s; hanging up", key)
                self.calls.pop(key)
                self.engine.hang_up(key)

    def _forward_hangups(self) -> None:
        dial_ids = [int(key.split(":")[1]) for key in self.calls if key.startswith("dial:")]
        for dial_id in self.queue.hangups_requested(dial_ids):
            key = f"dial:{dial_id}"
            if key not in self.hangups_sent:
                self.hangups_sent.add(key)
                self.engine.hang_up(key)

    def _shutdown(self, thread: threading.Thread) -> None:
        """Stop cleanly: calls are hung up, what was measured is written, and what is left
        unfinished is handed back at once rather than when the lease runs out."""
        self.engine.stop()
        thread.join(10)
        self.options.shutdown(wait=True, cancel_futures=True)
        self._collect(wait=0)
        try:
            if self.unwritten:
                self.queue.record(self.unwritten)
            self.queue.reap(dead_owner=self.owner)
            self.queue.unregister()
        except SQLAlchemyError as error:
            log.warning("could not hand back work on exit: %s", error)
        self.queue.engine.dispose()


def _slow(step: str, since: float) -> None:
    """A turn of the loop that took long delays every claim (a redial waits on it)."""
    took = time.monotonic() - since
    if took > SLOW_STEP_SECONDS:
        log.warning("%s took %.2f s", step, took)


def _die_with_parent() -> None:
    """A SIP process outlives no supervisor: the kernel sends it SIGTERM when its parent
    dies (Linux), and if that already happened it leaves at once."""
    parent = os.getppid()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if parent == 1:
        sys.exit(0)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bridge.engine.process", description=__doc__)
    parser.add_argument("--once", action="store_true", help="exit when no work is left")
    args = parser.parse_args(argv)
    if not args.once and sys.platform == "linux":
        _die_with_parent()
    logging.basicConfig(
        level=logging.INFO, format=f"%(asctime)s sip[{os.getpid()}] %(name)s %(message)s"
    )
    worker = WorkerProcess(get_settings(), once=args.once)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: worker.stop.set())
    return worker.run()


if __name__ == "__main__":
    sys.exit(main())
