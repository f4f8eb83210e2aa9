"""The JSON shapes of help-desk tickets (opening, working, reading with timeline and
breaches) and of the SLA policies that set their clocks."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from bridgedesk.schemas import MULTI_LINE, FromRow, Id, Instant, Strict
from monitoring.schemas.common import Note
from monitoring.schemas.desk import ChargeOut

Severity = Literal["SL1", "SL2", "SL3", "SL4"]
Channel = Literal["phone", "email", "web"]
Tier = Literal["1", "2", "3", "engineering"]
ClosureReason = Literal["solved_without_code_change", "patch_provided", "third_party_component"]
TicketStatus = Literal["open", "responded", "waiting", "awaiting_patch", "resolved"]


class TicketIn(Strict):
    customer_id: Id
    severity: Severity
    summary: Annotated[str, Field(min_length=1, max_length=300)]
    description: Annotated[str, Field(min_length=1, max_length=20_000), MULTI_LINE]
    channel: Channel
    reported_at: Instant | None = None
    caller_name: Annotated[str, Field(max_length=200)] | None = None
    caller_company: Annotated[str, Field(max_length=200)] | None = None
    caller_account: Annotated[str, Field(max_length=100)] | None = None
    caller_system: Annotated[str, Field(max_length=200)] | None = None
    suggested_severity: Severity | None = None
    offered_at: Instant | None = None
    answered_at: Instant | None = None
    related_ticket_id: Id | None = None


class NoteIn(Strict):
    note: Note | None = None


class RespondIn(Strict):
    note: Note | None = None
    severity: Severity | None = None


class UpdateIn(Strict):
    note: Annotated[str, Field(min_length=1, max_length=4000), MULTI_LINE]


class EscalateIn(Strict):
    tier: Tier | None = None
    note: Note | None = None


class ResolveIn(Strict):
    closure_reason: ClosureReason
    note: Note | None = None


class TicketEventOut(FromRow):
    at: datetime
    kind: str
    by: str
    note: str | None
    data: dict[str, str]  # what the event changed, e.g. {"tier": "...", "previous": "..."}


class BreachOut(FromRow):
    kind: str
    due_at: datetime
    detected_at: datetime
    notified_tier: str


class TicketOut(FromRow):
    id: int
    customer_id: int
    reporter_name: str
    caller_name: str | None
    caller_company: str | None
    caller_account: str | None
    caller_system: str | None
    suggested_severity: str | None
    severity: str
    summary: str
    description: str
    channel: str
    tier: str
    status: str
    policy_id: int
    reported_at: datetime
    respond_by: datetime
    responded_at: datetime | None
    next_update_by: datetime | None
    last_update_at: datetime | None
    resolve_by: datetime | None
    resolved_at: datetime | None
    closure_reason: str | None
    paused_since: datetime | None
    clock_started_at: datetime | None
    after_hours: bool
    contract_id: int | None
    best_effort: bool
    best_effort_reason: str | None
    work_minutes: int
    charge_consent_at: datetime | None
    offered_at: datetime | None
    answered_at: datetime | None
    related_ticket_id: int | None
    defect_id: int | None


class TicketDetailOut(TicketOut):
    timeline: list[TicketEventOut] = []
    breaches: list[BreachOut] = []
    # The best-effort charge, once the issue is past its free minutes with consent.
    charge: ChargeOut | None = None


class TicketsOut(BaseModel):
    items: list[TicketOut]


class ClockOut(BaseModel):
    minutes: int
    business: bool


class TargetOut(BaseModel):
    severity: str
    respond: ClockOut
    update: ClockOut
    resolve: ClockOut
    resolve_goal_minutes: int | None


class PolicyOut(BaseModel):
    id: int
    name: str
    timezone: str | None
    after_hours_severities: list[str]
    email_respond_minutes: int | None
    targets: list[TargetOut]


class PolicyAssignIn(Strict):
    policy_id: Id


class PolicyAssignedOut(BaseModel):
    customer_id: int
    policy_id: int
