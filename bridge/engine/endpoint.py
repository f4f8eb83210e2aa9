"""The pjsua2 endpoint's setup for bridge/engine/sip.py: creating the library and its
account, binding the UDP (and, when built in, TLS) transports, what the loaded library allows
(its call slots and conference ports, read through pjsua's C functions), and the INVITE pacing
sized to it.

pjsua clamps maxCalls to its PJSUA_MAX_CALLS: 512 in the server build, 4 in the PyPI wheel,
whose 64-handle socket table also aborts the process on a burst of INVITEs; so the wheel is
paced harder than the settings ask (SPEC §5).
"""

import contextlib
import ctypes
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import pjsua2 as pj

log = logging.getLogger("bridge.engine.sip")

# At or below this many calls per process the loaded pjsua2 is the PyPI wheel's default build.
WHEEL_MAX_CALLS = 4
# The wheel's socket table: pacing it may not exceed, whatever the settings say.
WHEEL_DIALS_PER_SECOND, WHEEL_DIAL_BURST = 10.0, 4


@dataclass(frozen=True)
class LibraryLimits:
    """What the loaded pjsua2 allows, read after libInit (None where it cannot be read)."""

    max_calls: int | None
    conf_ports: int | None


class Library:
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


LIBRARY = Library()


def read_library_limits() -> LibraryLimits:
    """pjsua's own counts: the configured maxCalls as clamped by PJSUA_MAX_CALLS, and the
    conference bridge's ports (after libInit). Where pjsua's symbols cannot be reached, the
    default `UaConfig().maxCalls`, which pjsua sets to its compiled PJSUA_MAX_CALLS."""
    limits = LIBRARY.limits()
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


@dataclass(frozen=True)
class Sizing:
    """How many calls a process holds, and which build of pjsua2 it runs with."""

    capacity: int
    module: str
    version: str
    bucket: TokenBucket


def create_endpoint(max_calls: int) -> "pj.Endpoint":
    """The library created and initialized (not started) for the calling thread alone."""
    endpoint = pj.Endpoint()
    endpoint.libCreate()
    config = pj.EpConfig()
    config.uaConfig.threadCnt = 0
    config.uaConfig.mainThreadOnly = True
    config.uaConfig.maxCalls = max_calls
    config.uaConfig.userAgent = "bridgedesk-probe"
    config.logConfig.level = 1
    config.logConfig.consoleLevel = 1
    config.medConfig.noVad = True  # RTP flows continuously, so silence is still media
    config.medConfig.threadCnt = 0
    endpoint.libInit(config)
    return endpoint


def create_account(bind_host: str, port: int) -> "pj.Account":
    account_config = pj.AccountConfig()
    account_config.idUri = f"sip:bridgedesk@{bind_host}:{port}"
    account_config.regConfig.registerOnAdd = False
    account = pj.Account()
    account.create(account_config, True)
    return account


def size_to_library(endpoint: "pj.Endpoint", max_calls: int, bucket: TokenBucket) -> Sizing:
    """Capacity: the smaller of what was asked and what the library allows (its call
    slots, and its conference bridge's ports less the null device's)."""
    limits = read_library_limits()
    version = endpoint.libVersion().full
    library_calls = limits.max_calls if limits.max_calls is not None else WHEEL_MAX_CALLS
    bounds = [max_calls, library_calls]
    if limits.conf_ports is not None:
        bounds.append(max(1, limits.conf_ports - 1))
    capacity = max(1, min(bounds))
    if library_calls <= WHEEL_MAX_CALLS:
        bucket = TokenBucket(
            min(bucket.rate, WHEEL_DIALS_PER_SECOND),
            min(int(bucket.burst), WHEEL_DIAL_BURST),
        )
        log.error(
            "pjsua2 %s is the PyPI wheel's build: %d calls per process and a 64-handle "
            "socket table. This bridge holds %d legs per process; build the engine with "
            "`make install` (SPEC §5) for hundreds.",
            version, library_calls, capacity,
        )  # fmt: skip
        return Sizing(capacity, "wheel", version, bucket)
    log.info(
        "pjsua2 %s: %d calls per process allowed, %s conference ports; holding up to %d",
        version, library_calls, limits.conf_ports, capacity,
    )  # fmt: skip
    return Sizing(capacity, "server build", version, bucket)


def tls_transport(endpoint: "pj.Endpoint", bind_host: str) -> bool:
    """A TLS transport for `sips:` targets, when the library was built with TLS."""
    transport = pj.TransportConfig()
    transport.boundAddress = bind_host
    transport.port = 0
    try:
        endpoint.transportCreate(pj.PJSIP_TRANSPORT_TLS, transport)
    except pj.Error as error:
        log.warning("no TLS transport (sips: targets cannot be dialed): %s", error.reason)
        return False
    return True


def bind_transport(endpoint: "pj.Endpoint", bind_host: str, ports: range) -> int:
    last: Exception | None = None
    for port in ports:
        transport = pj.TransportConfig()
        transport.boundAddress = bind_host
        transport.port = port
        try:
            endpoint.transportCreate(pj.PJSIP_TRANSPORT_UDP, transport)
            return port
        except pj.Error as error:  # taken by another process: try the next one
            last = error
    raise RuntimeError(f"no free SIP port in {ports}: {last}")
