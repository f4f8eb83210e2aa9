"""The JSON shapes of the monitoring API: uptime, outages, maintenance windows, call
statistics, tickets and SLA policies (the help desk's own, in desk_schemas)."""

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from bridgedesk.schemas import MULTI_LINE, FromRow, Id, Instant, Strict
from monitoring.desk_schemas import ChargeOut

Component = Literal["bridge", "reservations"]
Severity = Literal["SL1", "SL2", "SL3", "SL4"]
Channel = Literal["phone", "email", "web"]
Tier = Literal["1", "2", "3", "engineering"]
ClosureReason = Literal["solved_without_code_change", "patch_provided", "third_party_component"]
TicketStatus = Literal["open", "responded", "waiting", "awaiting_patch", "resolved"]
MonthText = Annotated[str, Field(pattern=r"^\d{4}-\d{2}$")]


Note = Annotated[str, Field(max_length=4000), MULTI_LINE]


class OutageIn(Strict):
    component: Component
    start: Instant
    end: Instant
    force_majeure: bool = False
    note: Note | None = None


class OutagePatch(Strict):
    force_majeure: bool | None = None
    note: Note | None = None


class OutageOut(FromRow):
    id: int
    component: str
    target: str | None
    source: str
    started_at: datetime
    ended_at: datetime | None
    force_majeure: bool
    note: str | None
    recorded_by: str | None


class WindowIn(Strict):
    component: Component
    start: Instant
    end: Instant
    reason: Annotated[str, Field(min_length=1, max_length=500)]
    notified_at: Instant | None = None


class WindowPatch(Strict):
    start: Instant | None = None
    end: Instant | None = None
    reason: Annotated[str, Field(min_length=1, max_length=500)] | None = None


class NoticeOut(FromRow):
    kind: str
    sent_at: datetime
    starts_at: datetime
    ends_at: datetime
    recipients: int


class WindowOut(FromRow):
    id: int
    component: str
    starts_at: datetime
    ends_at: datetime
    reason: str
    notified_at: datetime
    created_at: datetime
    created_by: str
    cancelled_at: datetime | None
    notices: list[NoticeOut] = []


class ReportIntervalOut(BaseModel):
    kind: str
    start: datetime
    end: datetime
    counted_as: str
    counted_minutes: float
    id: int | None = None
    notified_at: datetime | None = None
    notice_ok: bool | None = None
    note: str | None = None


class UptimeOut(BaseModel):
    component: str
    month: str
    timezone: str
    minutes_in_month: float
    excluded_minutes: float
    eligible_minutes: float
    downtime_minutes: float
    unmonitored_minutes: float
    availability_pct: float
    target_pct: float
    met: bool
    budget_left_minutes: float
    notice_hours: int
    intervals: list[ReportIntervalOut]


class CauseOut(BaseModel):
    cause: str
    label: str
    provider_side: bool
    count: int
    share_of_calls_pct: float | None


class TurnaroundOut(BaseModel):
    count: int
    connected: int
    within_target: int
    within_target_pct: float | None
    median_seconds: float | None
    max_seconds: float | None
    target_seconds: int


class CallStatsOut(BaseModel):
    customer_id: int
    month: str
    timezone: str
    calls: int
    failed_calls: int
    failure_rate_pct: float | None
    failure_target_pct: float
    failure_met: bool | None
    failures_by_cause: list[CauseOut]
    customer_side_failures: int
    provider_side_failures: int
    launches: int
    launches_decided: int
    launches_on_time: int
    on_time_pct: float | None
    on_time_target_pct: float
    on_time_met: bool | None
    recovery_events: int
    restored_within_5_min: int
    restored_pct: float | None
    restored_target_pct: float
    restored_met: bool | None
    drops_past_window: int
    drops_with_audio_link: int
    adhoc: TurnaroundOut | None
    add_site: TurnaroundOut | None


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


class CommitmentOut(FromRow):
    """One promise of the service description, measured for the month."""

    key: str
    description: str
    target: str
    value: str | None
    # The number behind `value` (a percentage), None when nothing happened to measure.
    figure: Decimal | None
    met: bool | None
    # The intervals and events behind the figure, so the customer can recompute it.
    evidence: list[str]


class ServiceReportOut(FromRow):
    customer_id: int
    customer_name: str
    month: str
    timezone: str
    generated_at: datetime
    missed: list[str]
    commitments: list[CommitmentOut]
