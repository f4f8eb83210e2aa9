"""One call as bridge/engine/sip.py tracks it: its measurements (filled in by pjsua2's
callbacks on the endpoint's thread), the sampling of its media statistics (RTP counters,
loss, jitter, received level) into MediaSeen reports, and the CallEnded event it ends with.
"""

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import pjsua2 as pj

from bridge.engine.events import CallEnded, EngineEvent, MediaSeen, PlaceCall
from bridgedesk.clock import utcnow

# Media is reported at most this often per call (it becomes a database write).
MEDIA_REPORT_SECONDS = 4.0


@dataclass
class Tracked:
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
    hanging_up: str | None = None  # why we hung up, once we did
    reported: bool = False  # CallEnded already sent (a timeout reports before DISCONNECTED)
    disconnected: bool = False
    remote_final: bool = False


def measure_media(tracked: Tracked, now: float, emit: Callable[[EngineEvent], None]) -> None:
    """Read the call's stream counters and received level; report its media every
    MEDIA_REPORT_SECONDS while it is held open (not for a probe with a set hold)."""
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
    # The first sample counts from the answer: samples come only every SAMPLE_SECONDS, and a
    # short test call would otherwise lose up to a second of the media it really carried.
    since = (
        tracked.last_sample_mono if tracked.last_sample_mono is not None else tracked.connected_mono
    )
    if since is not None and packets > tracked.rtp_packets:
        tracked.media_seconds += now - since
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
        expected = packets + rx.loss
        emit(
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


def held_for(hold_seconds: float) -> str:
    return f", held {hold_seconds:g} s" if hold_seconds > 0 else ""


def ended(tracked: Tracked, reason: str, detail: str) -> CallEnded:
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
