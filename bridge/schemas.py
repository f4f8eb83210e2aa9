"""The bridge package's API shapes (Pydantic), never mixed into its models."""

from datetime import datetime
from typing import Annotated, Any, Literal

from annotated_types import Ge, Le
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from bridge.service.cdrs import CallRecord
from bridge.service.leg_views import LegView
from bridge.service.probes import (
    MAX_ANSWER_TIMEOUT_SECONDS,
    MAX_HOLD_SECONDS,
    MAX_NOTE_LENGTH,
    Cause,
)
from bridge.service.procedure import MAX_STEPS, Outcome
from bridgedesk.schemas import MULTI_LINE, FromRow, Id, Strict
from bridgedesk.sip_uri import MAX_SIP_URI_LENGTH, address_problem

# Call-setup probes.


def _dialable(value: str) -> str:
    problem = address_problem(value)
    if problem:
        raise ValueError(problem)
    return value


ProbeId = Id


class ProbeIn(Strict):
    # A URI is taken as sent: surrounding whitespace is refused by the dial rule, not trimmed.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    sip_uri: Annotated[str, Field(max_length=MAX_SIP_URI_LENGTH), AfterValidator(_dialable)]
    method: Literal["INVITE", "OPTIONS"] = "INVITE"
    hold_seconds: float = Field(default=0.0, ge=0, le=MAX_HOLD_SECONDS, allow_inf_nan=False)
    answer_timeout_seconds: float | None = Field(
        default=None, gt=0, le=MAX_ANSWER_TIMEOUT_SECONDS, allow_inf_nan=False
    )


class CauseIn(Strict):
    cause: Cause
    note: Annotated[str, Field(max_length=MAX_NOTE_LENGTH), MULTI_LINE] = ""


# Legs and call detail records.

ConferenceId = Id


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
    legs: list[LegView]


class CallRecordsOut(BaseModel):
    items: list[CallRecord]


class CallRecordsIn(BaseModel):
    # Each record is checked by the import itself, so every bad one is named by its index.
    records: list[Any] = Field(max_length=10_000)


class StoredOut(BaseModel):
    stored: int


# The problem-call procedure.

IncidentId = Id
StepPosition = Annotated[int, Ge(1), Le(MAX_STEPS)]


class ProcedureAttemptIn(BaseModel):
    outcome: Outcome
    note: str = Field("", max_length=500)


class ProcedureAttemptOut(FromRow):
    at: datetime
    outcome: str
    note: str
    made_by: str
    automatic: bool


class ProcedureStepOut(FromRow):
    position: int
    kind: str
    purpose: str
    contact_name: str
    email: str | None
    phone: str | None
    pager: str | None
    mobile: str | None
    site_id: int | None
    reached: bool
    tried: bool
    attempts: list[ProcedureAttemptOut]


class ProcedureOut(FromRow):
    incident_id: int
    conference_id: int
    site_id: int
    opened_at: datetime
    closed: bool
    reached: bool
    # The first step nobody has worked yet (None once someone was reached).
    current: int | None
    steps: list[ProcedureStepOut]
