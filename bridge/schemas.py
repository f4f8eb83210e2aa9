"""The bridge package's API shapes (Pydantic), never mixed into its models."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from bridge.engine.sip_uri import MAX_SIP_URI_LENGTH, sip_uri_problem
from bridge.service.probes import (
    MAX_ANSWER_TIMEOUT_SECONDS,
    MAX_HOLD_SECONDS,
    MAX_NOTE_LENGTH,
    Cause,
)
from bridgedesk.schemas import FromRow, Id

# Call-setup probes.


def _dialable(value: str) -> str:
    problem = sip_uri_problem(value)
    if problem:
        raise ValueError(problem)
    return value


ProbeId = Id


class ProbeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sip_uri: Annotated[str, Field(max_length=MAX_SIP_URI_LENGTH), AfterValidator(_dialable)]
    method: Literal["INVITE", "OPTIONS"] = "INVITE"
    hold_seconds: float = Field(default=0.0, ge=0, le=MAX_HOLD_SECONDS, allow_inf_nan=False)
    answer_timeout_seconds: float | None = Field(
        default=None, gt=0, le=MAX_ANSWER_TIMEOUT_SECONDS, allow_inf_nan=False
    )


class ProbeResultOut(FromRow):
    final_status: int | None
    provisional_ms: float | None
    answer_ms: float | None
    codec: str | None
    media_seconds: float
    rtp_packets_received: int
    call_id: str | None
    cause: str
    measured_cause: str
    started_at: datetime
    finished_at: datetime
    passed: bool
    detail: str
    reclassified_at: datetime | None
    reclassified_by: int | None
    reclassification_note: str | None


class ProbeOut(FromRow):
    id: int
    sip_uri: str
    method: str
    hold_seconds: float
    purpose: str
    status: str
    queued_at: datetime
    attempts: int
    result: ProbeResultOut | None


class CauseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cause: Cause
    note: str = Field(default="", max_length=MAX_NOTE_LENGTH)


# Legs and call detail records.

ConferenceId = Id


class TimelineEntryOut(FromRow):
    at: datetime
    kind: str
    detail: str
    recipient: str | None


class IncidentOut(FromRow):
    id: int
    kind: str
    cause: str
    began_at: datetime
    recovery_deadline: datetime
    restored_at: datetime | None
    audio_fallback_at: datetime | None
    closed_at: datetime | None
    timeline: list[TimelineEntryOut]


class MediaOut(FromRow):
    """Media quality from pjsua2's stream statistics; `rx_level` is the peak received audio
    level (0-255, pjsua2's getRxLevel) over the last few seconds."""

    rx_packets: int
    tx_packets: int
    loss_pct: float
    jitter_ms: float
    rx_level: int


class LegOut(FromRow):
    id: int
    site_id: int
    site_name: str
    kind: str
    parent_leg_id: int | None
    origin: str
    sip_uri: str
    speed_kbps: int
    state: str
    connected_at: datetime | None
    first_connected_at: datetime | None
    state_changed_at: datetime
    next_dial_at: datetime | None
    redials: int
    ended_at: datetime | None
    recovery_deadline: datetime | None
    incident: IncidentOut | None
    incidents: list[IncidentOut]
    # None until the engine has reported on a connection of the leg.
    media: MediaOut | None
    # Why a leg that could not be dialed at all is `failed` (a SPEC §1 cause, and the reason).
    cause: str | None
    detail: str | None


class LaunchOut(FromRow):
    scheduled_start: datetime
    scheduled_end: datetime
    launched_at: datetime
    all_connected_at: datetime | None
    on_time: bool | None
    ended_at: datetime | None


class ConferenceLegsOut(BaseModel):
    conference_id: int
    conference_number: str
    status: str
    launch: LaunchOut | None
    legs: list[LegOut]


class CallRecordOut(FromRow):
    id: int
    conference_id: int
    conference_number: str
    customer_id: int
    site_id: int
    bridge_id: int | None
    connected_at: datetime
    disconnected_at: datetime
    speed_kbps: int
    disconnect_cause: str | None
    source: str


class CallRecordsOut(BaseModel):
    items: list[CallRecordOut]


class CallRecordsIn(BaseModel):
    # Each record is checked by the import itself, so every bad one is named by its index.
    records: list[Any] = Field(max_length=10_000)


class StoredOut(BaseModel):
    stored: int
