"""The one module that imports pjsua2: a SIP endpoint owned by one thread, which takes plain
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
"""

import contextlib
import ctypes
import heapq
import itertools
import logging
import queue
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import pjsua2 as pj

from bridge.engine.events import (
    CallConnected,
    CallDialing,
    CallEnded,
    EngineEvent,
    HangUp,
    MediaSeen,
    PlaceCall,
)
from bridgedesk.clock import utcnow

log = logging.getLogger("bridge.engine.sip")

# How often connected calls' media is sampled (stream statistics, received level); deadlines
# are looked at on every turn. Hundreds of calls a process: every sample is a few SWIG calls.
SAMPLE_SECONDS = 1.0
# Media is reported at most this often per call (it becomes a database write).
MEDIA_REPORT_SECONDS = 4.0
# A call that pjsua2 refuses for want of a free slot is retried for this long (it should
# never happen: calls start only while the engine counts a free slot).
SLOT_WAIT_SECONDS = 5.0
# At or below this many calls per process the loaded pjsua2 is the PyPI wheel's default build.
WHEEL_MAX_CALLS = 4
# The wheel's socket table: pacing it may not exceed, whatever the settings say.
WHEEL_DIALS_PER_SECOND, WHEEL_DIAL_BURST = 10.0, 4


@dataclass(frozen=True)
class LibraryLimits:
    """What the loaded pjsua2 allows, read after libInit (None where it cannot be read)."""

    max_calls: int | None
    conf_ports: int | None


class _Library:
    """pjsua's C functions inside the loaded SWIG extension (pjsua2 does not expose them)."""

    def __init__(self) -> None:
        self._handle: ctypes.CDLL | None = None
        self._loaded = False

    def handle(self) -> ctypes.CDLL | None:
        if not self._loaded:
            self._loaded = True
            extension = next(
                (
                    module
                    for name, module in list(sys.modules.items())
                    if name.endswith("_pjsua2") and getattr(module, "__file__", None)
                ),
                None,
            )
            if extension is not None:
                with contextlib.suppress(OSError):
                    self._handle = ctypes.CDLL(extension.__file__)
        return self._handle

    def _int(self, name: str) -> int | None:
        handle = self.handle()
        function = getattr(handle, name, None) if handle is not None else None
        return None if function is None else int(function())

    def calls(self) -> int | None:
        """Calls pjsua counts now (a slot is its until the call is fully gone)."""
        return self._int("pjsua_call_get_count")

    def limits(self) -> LibraryLimits:
        return LibraryLimits(
            self._int("pjsua_call_get_max_count"), self._int("pjsua_conf_get_max_ports")
        )


_LIBRARY = _Library()


def read_library_limits() -> LibraryLimits:
    """pjsua's own counts: the configured maxCalls as clamped by PJSUA_MAX_CALLS, and the
    conference bridge's ports (after libInit). Where pjsua's symbols cannot be reached, the
    default `UaConfig().maxCalls`, which pjsua sets to its compiled PJSUA_MAX_CALLS."""
    limits = _LIBRARY.limits()
    if limits.max_calls is None:
        return LibraryLimits(int(pj.UaConfig().maxCalls), limits.conf_ports)
    return limits


class TokenBucket:
    """At most `rate` takes a second on average, `burst` at once."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic):
        self.rate, self.burst, self._clock = rate, float(burst), clock
        self._tokens, self._at = float(burst), clock()

    def take(self) -> bool:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False


@dataclass
class _Tracked:
    """One call's measurements, filled in by pjsua2's callbacks on the endpoint's thread."""

    command: PlaceCall
    sent_mono: float = 0.0
    started_at: datetime = field(default_factory=utcnow)
    call: "pj.Call | None" = None
    call_id: str | None = None
    provisional_ms: float | None = None
    answer_ms: float | None = None
    connected_mono: float | None = None
    final_status: int | None = None
    final_reason: str = ""
    codec: str | None = None
    audio_index: int | None = None
    audio: "pj.AudioMedia | None" = None  # the call's port in the conference bridge
    rx_level_peak: int = 0  # highest received level since the last media report
    rtp_packets: int = 0
    media_seconds: float = 0.0
    last_sample_mono: float | None = None
    last_media_mono: float | None = None
    last_media_at: datetime | None = None
    media_reported_mono: float = 0.0
    media_reported_packets: int = 0
    hanging_up: str | None = None  # why we hung up, once we did
    hangup_detail: str = ""
    reported: bool = False  # CallEnded already sent (a timeout reports before DISCONNECTED)
    disconnected: bool = False
    remote_final: bool = False


class _Call(pj.Call):
    def __init__(self, account: "pj.Account", engine: "SipEngine", tracked: _Tracked) -> None:
        super().__init__(account)
        self._engine = engine
        self._tracked = tracked

    def onCallState(self, prm: "pj.OnCallStateParam") -> None:
        self._engine._on_state(self, self._tracked, prm)

    def onCallMediaState(self, prm: "pj.OnCallMediaStateParam") -> None:
        self._engine._on_media_state(self, self._tracked)


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
        self._calls: dict[str, _Tracked] = {}  # every live Call, referenced until disconnected
        self._groups: dict[int, set[str]] = {}  # conference -> keys of its calls
        self._account: pj.Account | None = None
        self._endpoint: pj.Endpoint | None = None
        self._null_port: pj.AudioMedia | None = None
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
    def busy_calls(self) -> int:
        """Calls holding (or about to hold) a slot; read from other threads as an estimate."""
        return len(self._calls) + len(self._pending)

    @property
    def held_calls(self) -> int:
        return len(self._calls)

    def library_calls(self) -> int:
        """pjsua's own count of taken slots (a plain read of its counter; 0 if unknown)."""
        return _LIBRARY.calls() or 0

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
        endpoint = pj.Endpoint()
        endpoint.libCreate()
        config = pj.EpConfig()
        config.uaConfig.threadCnt = 0
        config.uaConfig.mainThreadOnly = True
        config.uaConfig.maxCalls = self.max_calls
        config.uaConfig.userAgent = "bridgedesk-probe"
        config.logConfig.level = 1
        config.logConfig.consoleLevel = 1
        config.medConfig.noVad = True  # RTP flows continuously, so silence is still media
        config.medConfig.threadCnt = 0
        endpoint.libInit(config)
        self._endpoint = endpoint
        self._size_to_library(endpoint)
        self.port = self._bind_transport(endpoint)
        self.tls = self._tls_transport(endpoint)
        endpoint.libStart()
        endpoint.audDevManager().setNullDev()
        account_config = pj.AccountConfig()
        account_config.idUri = f"sip:bridgedesk@{self.bind_host}:{self.port}"
        account_config.regConfig.registerOnAdd = False
        account = pj.Account()
        account.create(account_config, True)
        self._account = account
        self._null_port = endpoint.audDevManager().getCaptureDevMedia()

    def _size_to_library(self, endpoint: "pj.Endpoint") -> None:
        """Capacity: the smaller of what was asked and what the library allows (its call
        slots, and its conference bridge's ports less the null device's)."""
        limits = read_library_limits()
        self.version = endpoint.libVersion().full
        library_calls = limits.max_calls if limits.max_calls is not None else WHEEL_MAX_CALLS
        bounds = [self.max_calls, library_calls]
        if limits.conf_ports is not None:
            bounds.append(max(1, limits.conf_ports - 1))
        self.capacity = max(1, min(bounds))
        if library_calls <= WHEEL_MAX_CALLS:
            self.module = "wheel"
            self.bucket = TokenBucket(
                min(self.bucket.rate, WHEEL_DIALS_PER_SECOND),
                min(int(self.bucket.burst), WHEEL_DIAL_BURST),
            )
            log.error(
                "pjsua2 %s is the PyPI wheel's build: %d calls per process and a 64-handle "
                "socket table. This bridge holds %d legs per process; build the engine with "
                "`make install` (SPEC §5) for hundreds.",
                self.version, library_calls, self.capacity,
            )  # fmt: skip
        else:
            self.module = "server build"
            log.info(
                "pjsua2 %s: %d calls per process allowed, %s conference ports; holding up to %d",
                self.version, library_calls, limits.conf_ports, self.capacity,
            )  # fmt: skip

    def _tls_transport(self, endpoint: "pj.Endpoint") -> bool:
        """A TLS transport for `sips:` targets, when the library was built with TLS."""
        transport = pj.TransportConfig()
        transport.boundAddress = self.bind_host
        transport.port = 0
        try:
            endpoint.transportCreate(pj.PJSIP_TRANSPORT_TLS, transport)
        except pj.Error as error:
            log.warning("no TLS transport (sips: targets cannot be dialed): %s", error.reason)
            return False
        return True

    def _bind_transport(self, endpoint: "pj.Endpoint") -> int:
        last: Exception | None = None
        for port in self.ports:
            transport = pj.TransportConfig()
            transport.boundAddress = self.bind_host
            transport.port = port
            try:
                endpoint.transportCreate(pj.PJSIP_TRANSPORT_UDP, transport)
                return port
            except pj.Error as error:  # taken by another process: try the next one
                last = error
        raise RuntimeError(f"no free SIP port in {self.ports}: {last}")

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
                    _ended(
                        _Tracked(pending, started_at=now), "hangup", "hung up before it was dialed"
                    )
                )
                return
        tracked = self._calls.get(key)
        if tracked is not None:
            self._end(tracked, "hangup", "hung up on request")

    def _slots_in_use(self) -> int:
        """Slots taken, as pjsua itself counts them when it can say: it may hold a call's
        slot a while after DISCONNECTED (its media is released asynchronously)."""
        library = _LIBRARY.calls()
        return len(self._calls) if library is None else max(library, len(self._calls))

    def _report_leaks(self, now: float) -> None:
        library = _LIBRARY.calls()
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
            tracked = _Tracked(command)
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
                        error.reason, len(self._calls), _LIBRARY.calls(),
                    )  # fmt: skip
                if no_slot and time.monotonic() - queued_at < SLOT_WAIT_SECONDS:
                    heapq.heappush(self._pending, entry)
                    return
                tracked.reported = True
                self.emit(_ended(tracked, "failed", f"not dialed: {error.reason}"))
                continue
            with contextlib.suppress(pj.Error):
                tracked.call_id = call.getInfo().callIdString
            self.emit(CallDialing(command.key, tracked.started_at, tracked.call_id))

    # -- callbacks (on this thread, from inside libHandleEvents) --

    def _on_state(self, call: "pj.Call", tracked: _Tracked, prm: "pj.OnCallStateParam") -> None:
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
                    self.emit(_ended(tracked, "failed", detail))
                else:
                    self.emit(_ended(tracked, "remote_bye", "the far end hung up"))
                tracked.reported = True

    def _on_media_state(self, call: "pj.Call", tracked: _Tracked) -> None:
        info = call.getInfo()
        for media in info.media:
            if media.type == pj.PJMEDIA_TYPE_AUDIO and media.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                tracked.audio_index = media.index
                try:
                    stream = call.getStreamInfo(media.index)
                    tracked.codec = f"{stream.codecName}/{stream.codecClockRate}"
                except pj.Error:
                    pass
                try:
                    audio = call.getAudioMedia(media.index)
                    # The null device's silence goes out, so the far end (and an echo) has RTP
                    # even alone in its meeting. (pjsua2 measures a call's received level only
                    # while another call listens to it: a site alone reads 0.)
                    self._null_port.startTransmit(audio)  # type: ignore[union-attr]
                except pj.Error as error:
                    log.warning("%s: no audio port: %s", tracked.command.key, error.reason)
                    return
                if tracked.audio is None:
                    tracked.audio = audio
                    self._mix(tracked)
                return

    def _mix(self, tracked: _Tracked) -> None:
        """Connect the call both ways with every other call of its conference that has
        audio: each site hears all the others (pjsua2's conference bridge sums them)."""
        group = tracked.command.group
        if group is None or tracked.audio is None:
            return
        members = self._groups.setdefault(group, set())
        for key in members:
            other = self._calls.get(key)
            if other is None or other.audio is None or other.disconnected:
                continue
            try:
                tracked.audio.startTransmit(other.audio)
                other.audio.startTransmit(tracked.audio)
            except pj.Error as error:
                log.warning("mixing %s with %s failed: %s", tracked.command.key, key, error.reason)
        members.add(tracked.command.key)

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
                self._sample_media(tracked, now)
            held = now - tracked.connected_mono
            if command.hold_seconds is not None and held >= command.hold_seconds:
                self._end(tracked, "completed", "answered" + _held(command.hold_seconds))
            elif command.no_media_seconds > 0:
                quiet_since = tracked.last_media_mono or tracked.connected_mono
                if now - quiet_since >= command.no_media_seconds:
                    self._end(
                        tracked,
                        "no_media",
                        f"no RTP received for {command.no_media_seconds:g} s",
                    )

    def _sample_media(self, tracked: _Tracked, now: float) -> None:
        if tracked.audio_index is None or tracked.call is None:
            return
        try:
            stat = tracked.call.getStreamStat(tracked.audio_index)
        except pj.Error:
            return
        rx = stat.rtcp.rxStat
        packets = rx.pkt
        if tracked.audio is not None:
            with contextlib.suppress(pj.Error):
                tracked.rx_level_peak = max(tracked.rx_level_peak, tracked.audio.getRxLevel())
        if tracked.last_sample_mono is not None and packets > tracked.rtp_packets:
            tracked.media_seconds += now - tracked.last_sample_mono
        if packets > tracked.rtp_packets:
            tracked.last_media_mono = now
            tracked.last_media_at = utcnow()
        tracked.rtp_packets = packets
        tracked.last_sample_mono = now
        if (
            tracked.command.hold_seconds is None
            and now - tracked.media_reported_mono >= MEDIA_REPORT_SECONDS
        ):
            tracked.media_reported_mono = now
            tracked.media_reported_packets = packets
            expected = packets + rx.loss
            self.emit(
                MediaSeen(
                    tracked.command.key,
                    tracked.last_media_at,
                    packets,
                    tx_packets=stat.rtcp.txStat.pkt,
                    loss_pct=round(100.0 * rx.loss / expected, 2) if expected else 0.0,
                    jitter_ms=round(rx.jitterUsec.mean / 1000.0, 2),
                    rx_level=tracked.rx_level_peak,
                )
            )
            tracked.rx_level_peak = 0

    def _end(self, tracked: _Tracked, reason: str, detail: str) -> None:
        """Hang up (CANCEL before an answer, BYE after) and report at once: the outcome is
        known now, while pjsip may take a while to finish the transaction."""
        if tracked.connected_mono is not None:
            self._sample_media(tracked, time.monotonic())
        tracked.hanging_up = reason
        if not tracked.reported:
            tracked.reported = True
            self.emit(_ended(tracked, reason, detail))
        if tracked.call is not None and not tracked.disconnected:
            try:
                tracked.call.hangup(pj.CallOpParam(True))
            except pj.Error as error:
                log.warning("hangup of %s failed: %s", tracked.command.key, error.reason)

    def _drop_disconnected(self) -> None:
        for key in [k for k, tracked in self._calls.items() if tracked.disconnected]:
            tracked = self._calls.pop(key)
            group = tracked.command.group
            if group is not None and group in self._groups:
                self._groups[group].discard(key)
                if not self._groups[group]:
                    del self._groups[group]
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
            self._null_port = None
            self._groups.clear()
            endpoint.libDestroy()
            self._endpoint = None


def _held(hold_seconds: float) -> str:
    return f", held {hold_seconds:g} s" if hold_seconds > 0 else ""


def _ended(tracked: _Tracked, reason: str, detail: str) -> CallEnded:
    return CallEnded(
        key=tracked.command.key,
        started_at=tracked.started_at,
        ended_at=utcnow(),
        connected=tracked.connected_mono is not None,
        final_status=tracked.final_status if tracked.remote_final else None,
        provisional_ms=tracked.provisional_ms,
        answer_ms=tracked.answer_ms,
        codec=tracked.codec,
        call_id=tracked.call_id,
        media_seconds=round(tracked.media_seconds, 3),
        rtp_packets=tracked.rtp_packets,
        last_media_at=tracked.last_media_at,
        end_reason=reason,
        detail=detail[:300],
    )
