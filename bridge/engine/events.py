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
    key: str
    last_media_at: datetime
    rtp_packets: int


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
