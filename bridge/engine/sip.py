"""The pjsua2 event loop: a SIP endpoint owned by one thread, which takes plain
commands (place a call, hang one up) and hands back plain events (connected, media, ended),
all defined in bridge/engine/events.py.

pjsua2 facts this relies on (SPEC §5): no sound device, so the null device after libStart;
threadCnt = 0 and mainThreadOnly, with libHandleEvents pumped by the thread that created the
endpoint, so every callback runs on that thread; a Call object is referenced until it is
DISCONNECTED and dropped right after. The calls a process may hold are read from the loaded
library after libInit (pjsua clamps maxCalls to its PJSUA_MAX_CALLS: 512 in the server build,
4 in the PyPI wheel) and a call is started only while a slot is free, so pjsua2 never refuses
one with PJ_ETOOMANY. INVITEs are paced by a token bucket (the wheel's 64-handle socket table
aborts the process on a burst), recovery first. Calls of one conference are mixed in pjsua2's
conference bridge: each transmits to every other.

The endpoint's setup and the library's limits are in bridge/engine/endpoint.py, one call's
measurements and media statistics in bridge/engine/calls.py; pjsua2 is imported by these three
modules only, and only this one subclasses its classes.
"""

import contextlib
import heapq
import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable

import pjsua2 as pj

from bridge.engine.calls import Tracked, ended, held_for, measure_media
from bridge.engine.endpoint import (
    LIBRARY,
    TokenBucket,
    bind_transport,
    create_account,
    create_endpoint,
    size_to_library,
    tls_transport,
)
from bridge.engine.events import (
    CallConnected,
    CallDialing,
    EngineEvent,
    HangUp,
    PlaceCall,
)
from bridge.engine.mixing import ConferenceBridge
from bridgedesk.clock import utcnow

log = logging.getLogger("bridge.engine.sip")

# How often connected calls' media is sampled (stream statistics, received level); deadlines
# are looked at on every turn. Hundreds of calls a process: every sample is a few SWIG calls.
SAMPLE_SECONDS = 1.0
# A call that pjsua2 refuses for want of a free slot is retried for this long (it should
# never happen: calls start only while the engine counts a free slot).
SLOT_WAIT_SECONDS = 5.0


class _Call(pj.Call):
    def __init__(self, account: "pj.Account", engine: "SipEngine", tracked: Tracked) -> None:
        super().__init__(account)
        self._engine = engine
        self._tracked = tracked

    def onCallState(self, prm: "pj.OnCallStateParam") -> None:
        self._engine._on_state(self, self._tracked, prm)

    def onCallMediaState(self, prm: "pj.OnCallMediaStateParam") -> None:
        self._engine._bridge.on_media_state(self, self._tracked)


class SipEngine:
    """Owns the pjsua2 endpoint; `run()` must be the body of the thread that owns it."""

    def __init__(
        self,
        *,
        bind_host: str,
        ports: range,
        max_calls: int,
        dials_per_second: float,
        dial_burst: int,
        emit: Callable[[EngineEvent], None],
    ) -> None:
        self.bind_host = bind_host
        self.ports = ports
        # Asked for; `capacity` is what the loaded library really allows (set by `_start`).
        self.max_calls = max_calls
        self.capacity = 0
        self.module = ""
        self.version = ""
        self.tls = False
        self.bucket = TokenBucket(dials_per_second, dial_burst)
        self.emit = emit
        self.commands: queue.SimpleQueue[PlaceCall | HangUp] = queue.SimpleQueue()
        self.ready = threading.Event()
        self.stopping = threading.Event()
        self.port: int | None = None
        self.startup_error: BaseException | None = None
        # Calls waiting for a slot or the pacing: (work class, order, queued at, command).
        self._pending: list[tuple[int, int, float, PlaceCall]] = []
        self._order = itertools.count()
        self._calls: dict[str, Tracked] = {}  # every live Call, referenced until disconnected
        self._bridge = ConferenceBridge(self._calls)
        self._account: pj.Account | None = None
        self._endpoint: pj.Endpoint | None = None
        self._next_sample = 0.0
        self._next_leak_report = 0.0

    # -- the commands other threads use (thread-safe: they only touch the queue) --

    def place(self, command: PlaceCall) -> None:
        self.commands.put(command)

    def hang_up(self, key: str) -> None:
        self.commands.put(HangUp(key))

    def stop(self) -> None:
        self.stopping.set()

    @property
    def held_calls(self) -> int:
        return len(self._calls)

    def library_calls(self) -> int:
        """pjsua's own count of taken slots (a plain read of its counter; 0 if unknown)."""
        return LIBRARY.calls() or 0

    # -- the endpoint's own thread --

    def run(self) -> None:
        try:
            self._start()
        except BaseException as error:
            self.startup_error = error
            self.ready.set()
            return
        self.ready.set()
        try:
            while not self.stopping.is_set():
                self._endpoint.libHandleEvents(2)  # type: ignore[union-attr]
                self._drain_commands()
                self._start_pending()
                now = time.monotonic()
                sample = now >= self._next_sample
                if sample:
                    self._next_sample = now + SAMPLE_SECONDS
                    self._report_leaks(now)
                self._check_calls(now, sample_media=sample)
                self._drop_disconnected()
        finally:
            self._shutdown()

    def _start(self) -> None:
        endpoint = create_endpoint(self.max_calls)
        self._endpoint = endpoint
        sizing = size_to_library(endpoint, self.max_calls, self.bucket)
        self.capacity, self.module = sizing.capacity, sizing.module
        self.version, self.bucket = sizing.version, sizing.bucket
        self.port = bind_transport(endpoint, self.bind_host, self.ports)
        self.tls = tls_transport(endpoint, self.bind_host)
        endpoint.libStart()
        endpoint.audDevManager().setNullDev()
        self._account = create_account(self.bind_host, self.port)
        self._bridge.null_port = endpoint.audDevManager().getCaptureDevMedia()

    def _drain_commands(self) -> None:
        while True:
            try:
                command = self.commands.get_nowait()
            except queue.Empty:
                return
            if isinstance(command, PlaceCall):
                entry = (command.work_class, next(self._order), time.monotonic(), command)
                heapq.heappush(self._pending, entry)
            else:
                self._hang_up(command.key)

    def _hang_up(self, key: str) -> None:
        for index, (_, _, _, pending) in enumerate(self._pending):
            if pending.key == key:
                del self._pending[index]
                heapq.heapify(self._pending)
                now = utcnow()
                self.emit(
                    ended(
                        Tracked(pending, started_at=now), "hangup", "hung up before it was dialed"
                    )
                )
                return
        tracked = self._calls.get(key)
        if tracked is not None:
            self._end(tracked, "hangup", "hung up on request")

    def _slots_in_use(self) -> int:
        """Slots taken, as pjsua itself counts them when it can say: it may hold a call's
        slot a while after DISCONNECTED (its media is released asynchronously)."""
        library = LIBRARY.calls()
        return len(self._calls) if library is None else max(library, len(self._calls))

    def _report_leaks(self, now: float) -> None:
        library = LIBRARY.calls()
        if library is not None and library > len(self._calls) and now >= self._next_leak_report:
            self._next_leak_report = now + 30
            log.warning(
                "pjsua holds %d call slots for calls already gone", library - len(self._calls)
            )

    def _start_pending(self) -> None:
        # Only into a slot pjsua has free: a call is never refused with PJ_ETOOMANY.
        while self._pending and self._slots_in_use() < self.capacity and self.bucket.take():
            entry = heapq.heappop(self._pending)
            _, _, queued_at, command = entry
            tracked = Tracked(command)
            call = _Call(self._account, self, tracked)
            tracked.call = call
            parameters = pj.CallOpParam(True)
            parameters.opt.audioCount = 1
            parameters.opt.videoCount = 0
            tracked.started_at = utcnow()
            tracked.sent_mono = time.monotonic()
            self._calls[command.key] = tracked
            try:
                call.makeCall(command.uri, parameters)
            except pj.Error as error:
                del self._calls[command.key]
                tracked.call = None
                no_slot = "TOOMANY" in str(error.reason).upper() or error.status == 70010
                if no_slot:
                    log.error(
                        "pjsua2 refused a call: %s (%d held here, %s in pjsua)",
                        error.reason, len(self._calls), LIBRARY.calls(),
                    )  # fmt: skip
                if no_slot and time.monotonic() - queued_at < SLOT_WAIT_SECONDS:
                    heapq.heappush(self._pending, entry)
                    return
                tracked.reported = True
                self.emit(ended(tracked, "failed", f"not dialed: {error.reason}"))
                continue
            with contextlib.suppress(pj.Error):
                tracked.call_id = call.getInfo().callIdString
            self.emit(CallDialing(command.key, tracked.started_at, tracked.call_id))

    # -- callbacks (on this thread, from inside libHandleEvents) --

    def _on_state(self, call: "pj.Call", tracked: Tracked, prm: "pj.OnCallStateParam") -> None:
        now = time.monotonic()
        info = call.getInfo()
        if tracked.call_id is None:
            tracked.call_id = info.callIdString
        state = info.state
        if state == pj.PJSIP_INV_STATE_EARLY and tracked.provisional_ms is None:
            tracked.provisional_ms = (now - tracked.sent_mono) * 1000
        elif state in (pj.PJSIP_INV_STATE_CONNECTING, pj.PJSIP_INV_STATE_CONFIRMED):
            if tracked.answer_ms is None:
                tracked.answer_ms = (now - tracked.sent_mono) * 1000
                tracked.connected_mono = now
                tracked.final_status = info.lastStatusCode or 200
                tracked.remote_final = True
            # Reported once the ACK is out: by then the answer's SDP gave the codec.
            if (
                state == pj.PJSIP_INV_STATE_CONFIRMED
                and tracked.hanging_up is None
                and not tracked.reported
            ):
                self.emit(
                    CallConnected(
                        tracked.command.key,
                        utcnow(),
                        tracked.final_status or 200,
                        tracked.provisional_ms,
                        tracked.answer_ms or 0.0,
                        tracked.codec,
                        tracked.call_id,
                    )
                )
        elif state == pj.PJSIP_INV_STATE_DISCONNECTED:
            tracked.disconnected = True
            if tracked.connected_mono is None:
                # Only a response the far end really sent counts as its answer; pjsip also
                # "answers" itself (408 on timeout, 503 on a transport error).
                event = prm.e
                remote = (
                    event.type == pj.PJSIP_EVENT_TSX_STATE
                    and event.body.tsxState.type == pj.PJSIP_EVENT_RX_MSG
                )
                tracked.final_reason = f"{info.lastStatusCode} {info.lastReason}"
                if remote:
                    tracked.final_status = info.lastStatusCode
                    tracked.remote_final = True
            if not tracked.reported:
                if tracked.connected_mono is None:
                    if tracked.remote_final:
                        detail = tracked.final_reason
                    elif info.lastStatusCode == 408:
                        detail = f"no answer from the far end ({tracked.final_reason})"
                    else:  # pjsip's own verdict: DNS, transport or socket failure
                        detail = f"not reached ({tracked.final_reason})"
                    self.emit(ended(tracked, "failed", detail))
                else:
                    self.emit(ended(tracked, "remote_bye", "the far end hung up"))
                tracked.reported = True

    # -- timers, on this thread --

    def _check_calls(self, now: float, *, sample_media: bool) -> None:
        """Deadlines on every turn of the loop (a probe that holds 0 s hangs up as soon as it
        is answered, freeing its slot); media counters only every SAMPLE_SECONDS."""
        for tracked in list(self._calls.values()):
            if tracked.hanging_up is not None or tracked.disconnected:
                continue
            command = tracked.command
            if tracked.connected_mono is None:
                if now - tracked.sent_mono >= command.answer_timeout:
                    self._end(
                        tracked,
                        "failed",
                        f"no answer within {command.answer_timeout:g} s",
                    )
                continue
            if sample_media:
                measure_media(tracked, now, self.emit)
            held = now - tracked.connected_mono
            if command.hold_seconds is not None and held >= command.hold_seconds:
                self._end(tracked, "completed", "answered" + held_for(command.hold_seconds))
            elif command.no_media_seconds > 0:
                quiet_since = tracked.last_media_mono or tracked.connected_mono
                if now - quiet_since >= command.no_media_seconds:
                    self._end(
                        tracked,
                        "no_media",
                        f"no RTP received for {command.no_media_seconds:g} s",
                    )

    def _end(self, tracked: Tracked, reason: str, detail: str) -> None:
        """Hang up (CANCEL before an answer, BYE after) and report at once: the outcome is
        known now, while pjsip may take a while to finish the transaction."""
        if tracked.connected_mono is not None:
            measure_media(tracked, time.monotonic(), self.emit)
        tracked.hanging_up = reason
        if not tracked.reported:
            tracked.reported = True
            self.emit(ended(tracked, reason, detail))
        if tracked.call is not None and not tracked.disconnected:
            try:
                tracked.call.hangup(pj.CallOpParam(True))
            except pj.Error as error:
                log.warning("hangup of %s failed: %s", tracked.command.key, error.reason)

    def _drop_disconnected(self) -> None:
        for key in [k for k, tracked in self._calls.items() if tracked.disconnected]:
            tracked = self._calls.pop(key)
            self._bridge.leave(key, tracked)
            tracked.audio = None
            tracked.call = None  # the last reference: the Call goes now, not later

    def _shutdown(self) -> None:
        endpoint = self._endpoint
        if endpoint is None:
            return
        try:
            # Calls cut by a stopping process are not the far end's doing: nothing is reported
            # for them here; the process hands their work back (dials end as engine_lost).
            for tracked in self._calls.values():
                tracked.reported = True
            endpoint.hangupAllCalls()
            deadline = time.monotonic() + 2
            while self._calls and time.monotonic() < deadline:
                endpoint.libHandleEvents(10)
                self._drop_disconnected()
        finally:
            self._calls.clear()
            self._account = None
            self._bridge.clear()
            endpoint.libDestroy()
            self._endpoint = None
