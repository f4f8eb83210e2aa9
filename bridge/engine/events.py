"""The plain values passed between the SIP endpoint's thread and the rest of a worker
process: commands in, events out. No pjsua2 here, so the supervisor and the database side
import them without loading the SIP stack."""

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class PlaceCall:
    key: str  # the caller's name for the call, e.g. "probe:12"
    uri: str
    answer_timeout: float
    # Probes hang up by themselves after this long connected; None holds the call (dials).
    hold_seconds: float | None
    # A connected call with no RTP for this long is hung up ("no_media"); 0 never.
    no_media_seconds: float = 0.0
    # Calls of one group (a conference) hear each other through the conference bridge.
    group: int | None = None
    # bridge.engine.classes.WorkClass: calls waiting for the dial pacing leave in this order.
    work_class: int = 1


@dataclass(frozen=True)
class HangUp:
    key: str


@dataclass(frozen=True)
class CallDialing:
    key: str
    at: datetime
    call_id: str | None


@dataclass(frozen=True)
class CallConnected:
    key: str
    at: datetime
    final_status: int
    provisional_ms: float | None
    answer_ms: float
    codec: str | None
    call_id: str | None


@dataclass(frozen=True)
class MediaSeen:
    """A connected call's media, every few seconds: pjsua2's stream statistics and the peak
    received audio level (0-255, `AudioMedia.getRxLevel`) since the last report."""

    key: str
    last_media_at: datetime | None
    rtp_packets: int
    tx_packets: int = 0
    loss_pct: float = 0.0
    jitter_ms: float = 0.0
    rx_level: int = 0


@dataclass(frozen=True)
class CallEnded:
    key: str
    started_at: datetime  # the INVITE went out (or the command was dropped)
    ended_at: datetime
    connected: bool
    final_status: int | None  # a final answer the far end really sent; None when none came
    provisional_ms: float | None
    answer_ms: float | None
    codec: str | None
    call_id: str | None
    media_seconds: float
    rtp_packets: int
    last_media_at: datetime | None
    # "completed" (a probe's own hang-up), "failed", "remote_bye", "no_media", "hangup".
    end_reason: str
    detail: str


EngineEvent = CallDialing | CallConnected | MediaSeen | CallEnded
