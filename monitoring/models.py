"""The monitoring package's tables, each name prefixed by the package: outage, monitored and
maintenance intervals, probe state, SLA policies, help-desk tickets and their timelines,
support contracts, best-effort charges and tier 3's defect and enhancement list."""

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from bridgedesk.db import Base, UTCDateTime

COMPONENTS = ("bridge", "reservations")
_COMPONENT_CHECK = "component IN ('bridge', 'reservations')"


class Outage(Base):
    """Time a component was down: opened by the prober (hysteresis) or recorded by hand."""

    __tablename__ = "monitoring_outages"
    __table_args__ = (
        CheckConstraint(_COMPONENT_CHECK, name="component_known"),
        CheckConstraint("ended_at IS NULL OR ended_at > started_at", name="ends_after_start"),
        Index("ix_monitoring_outages_component_started", "component", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    component: Mapped[str] = mapped_column(String(20))
    # The probed target (a bridge's SIP URI, the health URL); None for a manual record.
    target: Mapped[str | None] = mapped_column(String(300))
    source: Mapped[str] = mapped_column(String(10))  # "probe" | "manual"
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # None while a probed outage is still open.
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    force_majeure: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MonitoredSpan(Base):
    """Time during which the prober ran and produced samples for a component; the rest of a
    month is unmonitored. Consecutive rounds extend one row instead of adding rows."""

    __tablename__ = "monitoring_monitored_spans"
    __table_args__ = (
        CheckConstraint(_COMPONENT_CHECK, name="component_known"),
        CheckConstraint("ended_at > started_at", name="ends_after_start"),
        Index("ix_monitoring_monitored_spans_component_ended", "component", "ended_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    component: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ProbeTarget(Base):
    """The prober's memory of one target: the state that samples fold into."""

    __tablename__ = "monitoring_probe_targets"
    __table_args__ = (UniqueConstraint("component", "target"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    component: Mapped[str] = mapped_column(String(20))
    target: Mapped[str] = mapped_column(String(300))
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    # The first failure of the current run: an outage opened by the second starts here.
    first_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    open_outage_id: Mapped[int | None] = mapped_column(ForeignKey("monitoring_outages.id"))
    last_sample_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_ok: Mapped[bool | None] = mapped_column(Boolean)
    last_detail: Mapped[str | None] = mapped_column(String(300))


class ProbeRound(Base):
    """One row per minute the probe job ran: a second run in the same minute does nothing."""

    __tablename__ = "monitoring_probe_rounds"

    minute: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    ran_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PendingProbe(Base):
    """A SIP OPTIONS probe queued with the bridge package, collected by a later round."""

    __tablename__ = "monitoring_pending_probes"

    id: Mapped[int] = mapped_column(primary_key=True)
    probe_id: Mapped[int] = mapped_column(Integer, unique=True)
    component: Mapped[str] = mapped_column(String(20))
    target: Mapped[str] = mapped_column(String(300))
    minute: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class MaintenanceWindow(Base):
    __tablename__ = "monitoring_maintenance_windows"
    __table_args__ = (
        CheckConstraint(_COMPONENT_CHECK, name="component_known"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        Index("ix_monitoring_maintenance_windows_component_starts", "component", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    component: Mapped[str] = mapped_column(String(20))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(String(500))
    # When customers were told of the window's current times (a move resets it).
    notified_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(200))
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MaintenanceNotice(Base):
    """Each notice sent about a window: created, moved or cancelled, with the times told."""

    __tablename__ = "monitoring_maintenance_notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    window_id: Mapped[int] = mapped_column(
        ForeignKey("monitoring_maintenance_windows.id"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))  # "created" | "moved" | "cancelled"
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recipients: Mapped[int] = mapped_column(Integer)
    by: Mapped[str] = mapped_column(String(200))


class SlaPolicy(Base):
    """A support model as data: a calendar for business-hours clocks, and per-severity targets."""

    __tablename__ = "monitoring_sla_policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    # Business calendar; None zone means the policy has only wall-clock targets.
    timezone: Mapped[str | None] = mapped_column(String(64))
    weekdays: Mapped[list[int]] = mapped_column(JSON, default=list)
    opens: Mapped[str | None] = mapped_column(String(5))  # "08:00"
    closes: Mapped[str | None] = mapped_column(String(5))
    holiday_country: Mapped[str | None] = mapped_column(String(10))
    holiday_subdiv: Mapped[str | None] = mapped_column(String(10))
    # Severities that may call the after-hours line (their response clocks run on wall time).
    after_hours_severities: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Tickets arriving by email are answered within this many wall minutes, whatever severity.
    email_respond_minutes: Mapped[int | None] = mapped_column(Integer)


class SlaTarget(Base):
    __tablename__ = "monitoring_sla_targets"
    __table_args__ = (UniqueConstraint("policy_id", "severity"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(ForeignKey("monitoring_sla_policies.id"))
    severity: Mapped[str] = mapped_column(String(3))
    respond_minutes: Mapped[int] = mapped_column(Integer)
    respond_business: Mapped[bool] = mapped_column(Boolean, default=False)
    update_minutes: Mapped[int] = mapped_column(Integer)
    update_business: Mapped[bool] = mapped_column(Boolean, default=False)
    resolve_minutes: Mapped[int] = mapped_column(Integer)
    resolve_business: Mapped[bool] = mapped_column(Boolean, default=False)
    # A tighter goal shown beside the commitment (SL4: resolved within 24 h, goal 30 min).
    resolve_goal_minutes: Mapped[int | None] = mapped_column(Integer)


class CustomerPolicy(Base):
    __tablename__ = "monitoring_customer_policies"

    customer_id: Mapped[int] = mapped_column(
        ForeignKey("reservations_customers.id"), primary_key=True
    )
    policy_id: Mapped[int] = mapped_column(ForeignKey("monitoring_sla_policies.id"))


class Ticket(Base):
    __tablename__ = "monitoring_tickets"
    __table_args__ = (
        CheckConstraint("severity IN ('SL1', 'SL2', 'SL3', 'SL4')", name="severity_known"),
        CheckConstraint(
            "status IN ('open', 'responded', 'waiting', 'awaiting_patch', 'resolved')",
            name="status_known",
        ),
        CheckConstraint(
            "best_effort_reason IS NULL OR best_effort_reason IN "
            "('no_contract', 'caller_not_authorized', 'system_not_covered')",
            name="best_effort_reason_known",
        ),
        CheckConstraint("work_minutes >= 0", name="work_minutes_not_negative"),
        Index("ix_monitoring_tickets_customer_status", "customer_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("reservations_customers.id"))
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("bridgedesk_users.id"))
    reporter_name: Mapped[str] = mapped_column(String(200))
    # What the caller gives (SPEC §6): name, company, contract/account, system, severity.
    caller_name: Mapped[str | None] = mapped_column(String(200))
    caller_company: Mapped[str | None] = mapped_column(String(200))
    caller_account: Mapped[str | None] = mapped_column(String(100))
    caller_system: Mapped[str | None] = mapped_column(String(200))
    suggested_severity: Mapped[str | None] = mapped_column(String(3))
    severity: Mapped[str] = mapped_column(String(3))
    summary: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(String(10))
    tier: Mapped[str] = mapped_column(String(12))
    status: Mapped[str] = mapped_column(String(12))
    policy_id: Mapped[int] = mapped_column(ForeignKey("monitoring_sla_policies.id"))
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    respond_by: Mapped[datetime] = mapped_column(UTCDateTime)
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_update_by: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_update_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # None while the resolution clock is paused (waiting on the customer).
    resolve_by: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closure_reason: Mapped[str | None] = mapped_column(String(40))
    paused_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Closed pauses as [[start, end], ...] ISO instants; they extend the resolution clock.
    pauses: Mapped[list[list[str]]] = mapped_column(JSON, default=list)
    # Where the SLA clocks start: the report, or the next opening when the after-hours line
    # does not take this severity (SPEC §6).
    clock_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Reported outside the policy's hours on the after-hours line (the on-call was paged).
    after_hours: Mapped[bool] = mapped_column(Boolean, default=False)
    # The contract the caller was checked against; best effort when none covers the call.
    contract_id: Mapped[int | None] = mapped_column(
        ForeignKey("monitoring_support_contracts.id"), index=True
    )
    best_effort: Mapped[bool] = mapped_column(Boolean, default=False)
    best_effort_reason: Mapped[str | None] = mapped_column(String(30))
    work_minutes: Mapped[int] = mapped_column(Integer, default=0)
    charge_consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    charge_consent_by: Mapped[str | None] = mapped_column(String(200))
    # Phone queue: when the call was offered to the desk and when someone picked it up.
    offered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # An earlier ticket about the same problem (opened as related to it).
    related_ticket_id: Mapped[int | None] = mapped_column(ForeignKey("monitoring_tickets.id"))
    # The defect whose fix this ticket waits for (status awaiting_patch) or got.
    defect_id: Mapped[int | None] = mapped_column(ForeignKey("monitoring_defects.id"), index=True)


class TicketEvent(Base):
    """The ticket's timeline: every action, who took it and when."""

    __tablename__ = "monitoring_ticket_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("monitoring_tickets.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(20))
    by: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class TicketBreach(Base):
    """A missed clock: found once by the breach job, which tells the next tier."""

    __tablename__ = "monitoring_ticket_breaches"
    __table_args__ = (UniqueConstraint("ticket_id", "kind", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("monitoring_tickets.id"), index=True)
    kind: Mapped[str] = mapped_column(String(12))  # "response" | "update" | "resolution"
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime)
    notified_tier: Mapped[str] = mapped_column(String(12))


class SupportContract(Base):
    """A customer's support contract: the systems it covers (fixed when it starts), its
    policy, its term and the persons authorized to call (any of whom may add more)."""

    __tablename__ = "monitoring_support_contracts"
    __table_args__ = (
        CheckConstraint("ends_on IS NULL OR ends_on >= starts_on", name="ends_after_start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("reservations_customers.id"), index=True)
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("monitoring_sla_policies.id"))
    systems: Mapped[list[str]] = mapped_column(JSON, default=list)
    # [{"name", "email", "phone", "added_by", "added_at"}]
    authorized: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(200))


class DeskCharge(Base):
    """The charge for best-effort work past the free minutes, once per ticket (issue); billing
    reads it through the app wiring and puts it on the month's invoice as its own line."""

    __tablename__ = "monitoring_desk_charges"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("monitoring_tickets.id"), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("reservations_customers.id"), index=True)
    charged_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    minutes: Mapped[int] = mapped_column(Integer)
    # A decimal string in the customer's plan currency (stored exactly on every database).
    amount: Mapped[str] = mapped_column(String(30))


class Defect(Base):
    """An entry of tier 3's defect and enhancement list; releasing its fix resolves the
    tickets waiting for it."""

    __tablename__ = "monitoring_defects"
    __table_args__ = (
        CheckConstraint("kind IN ('defect', 'enhancement')", name="kind_known"),
        CheckConstraint("status IN ('open', 'released')", name="status_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(200))
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    release: Mapped[str | None] = mapped_column(String(100))
