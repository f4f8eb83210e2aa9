"""uptime maintenance and tickets

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 00:55:00

Monitoring's tables: outage, monitored-span and maintenance intervals, the prober's state,
help-desk tickets, and SLA policies seeded with the three support models of SPEC §6.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WEEKDAYS = [0, 1, 2, 3, 4]

# (name, description, is_default, zone, opens, closes, after-hours severities, email minutes)
POLICIES = [
    (
        "Provider default (24/7)",
        "The provider's published help-desk targets; the desk is staffed 24/7, so every "
        "clock runs on wall time. Email tickets are answered within 24 h.",
        True,
        None,
        None,
        None,
        ["SL1", "SL2", "SL3", "SL4"],
        1440,
    ),
    (
        "Business hours 08:00-20:00 US/Eastern",
        "Mon-Fri 08:00-20:00 America/New_York excluding US holidays; Severity 1/2/3 (SL4, SL3, "
        "SL2 and SL1) answered in 2 h / 4 h / 48 h with updates every 2 h / 24 h / 5 business "
        "days; after hours for Severity 1 only.",
        False,
        "America/New_York",
        "08:00",
        "20:00",
        ["SL4"],
        None,
    ),
    (
        "Business hours 08:00-17:00 US/Pacific",
        "Mon-Fri 08:00-17:00 America/Los_Angeles excluding US holidays; response within 4 "
        "business hours; after-hours system-down emergencies (SL4) within 2 h.",
        False,
        "America/Los_Angeles",
        "08:00",
        "17:00",
        ["SL4"],
        None,
    ),
]

# Per policy and severity: respond, update, resolve as (minutes, on the business calendar?),
# and the resolution goal. Figures the support models do not state (resolution under the
# business-hours models, update cadence of the default) are the provider's working
# assumptions, kept here as data so that they can be changed without code.
Clock = tuple[int, bool]
TARGETS: dict[str, dict[str, tuple[Clock, Clock, Clock, int | None]]] = {
    "Provider default (24/7)": {
        "SL4": ((10, False), (60, False), (1440, False), 30),
        "SL3": ((15, False), (120, False), (1440, False), None),
        "SL2": ((30, False), (1440, False), (1440, False), None),
        "SL1": ((30, False), (1440, False), (480, False), None),
    },
    "Business hours 08:00-20:00 US/Eastern": {
        "SL4": ((120, False), (120, False), (1440, False), None),
        "SL3": ((240, True), (1440, False), (3600, True), None),
        "SL2": ((2880, True), (3600, True), (7200, True), None),
        "SL1": ((2880, True), (3600, True), (7200, True), None),
    },
    "Business hours 08:00-17:00 US/Pacific": {
        "SL4": ((120, False), (240, False), (1440, False), None),
        "SL3": ((240, True), (540, True), (1620, True), None),
        "SL2": ((240, True), (540, True), (2700, True), None),
        "SL1": ((240, True), (540, True), (5400, True), None),
    },
}


def _seed_policies() -> None:
    policies = sa.table(
        "monitoring_sla_policies",
        sa.column("id", sa.Integer),
        sa.column("name", sa.String),
        sa.column("description", sa.Text),
        sa.column("is_default", sa.Boolean),
        sa.column("timezone", sa.String),
        sa.column("weekdays", sa.JSON),
        sa.column("opens", sa.String),
        sa.column("closes", sa.String),
        sa.column("holiday_country", sa.String),
        sa.column("holiday_subdiv", sa.String),
        sa.column("after_hours_severities", sa.JSON),
        sa.column("email_respond_minutes", sa.Integer),
    )
    targets = sa.table(
        "monitoring_sla_targets",
        sa.column("policy_id", sa.Integer),
        sa.column("severity", sa.String),
        sa.column("respond_minutes", sa.Integer),
        sa.column("respond_business", sa.Boolean),
        sa.column("update_minutes", sa.Integer),
        sa.column("update_business", sa.Boolean),
        sa.column("resolve_minutes", sa.Integer),
        sa.column("resolve_business", sa.Boolean),
        sa.column("resolve_goal_minutes", sa.Integer),
    )
    rows = []
    target_rows = []
    for number, (name, text, default, zone, opens, closes, after_hours, email) in enumerate(
        POLICIES, start=1
    ):
        rows.append(
            {
                "id": number,
                "name": name,
                "description": text,
                "is_default": default,
                "timezone": zone,
                "weekdays": WEEKDAYS if zone else [],
                "opens": opens,
                "closes": closes,
                "holiday_country": "US" if zone else None,
                "holiday_subdiv": None,
                "after_hours_severities": after_hours,
                "email_respond_minutes": email,
            }
        )
        for severity, (respond, update, resolve, goal) in TARGETS[name].items():
            target_rows.append(
                {
                    "policy_id": number,
                    "severity": severity,
                    "respond_minutes": respond[0],
                    "respond_business": respond[1],
                    "update_minutes": update[0],
                    "update_business": update[1],
                    "resolve_minutes": resolve[0],
                    "resolve_business": resolve[1],
                    "resolve_goal_minutes": goal,
                }
            )
    op.bulk_insert(policies, rows)
    op.bulk_insert(targets, target_rows)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "SELECT setval(pg_get_serial_sequence('monitoring_sla_policies', 'id'), "
            "(SELECT max(id) FROM monitoring_sla_policies))"
        )


def upgrade() -> None:
    op.create_table(
        "monitoring_maintenance_windows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("component", sa.String(length=20), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "component IN ('bridge', 'reservations')",
            name=op.f("ck_monitoring_maintenance_windows_component_known"),
        ),
        sa.CheckConstraint(
            "ends_at > starts_at", name=op.f("ck_monitoring_maintenance_windows_ends_after_start")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_maintenance_windows")),
    )
    with op.batch_alter_table("monitoring_maintenance_windows", schema=None) as batch_op:
        batch_op.create_index(
            "ix_monitoring_maintenance_windows_component_starts",
            ["component", "starts_at"],
            unique=False,
        )

    op.create_table(
        "monitoring_monitored_spans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("component", sa.String(length=20), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "component IN ('bridge', 'reservations')",
            name=op.f("ck_monitoring_monitored_spans_component_known"),
        ),
        sa.CheckConstraint(
            "ended_at > started_at", name=op.f("ck_monitoring_monitored_spans_ends_after_start")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_monitored_spans")),
    )
    with op.batch_alter_table("monitoring_monitored_spans", schema=None) as batch_op:
        batch_op.create_index(
            "ix_monitoring_monitored_spans_component_ended", ["component", "ended_at"], unique=False
        )

    op.create_table(
        "monitoring_outages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("component", sa.String(length=20), nullable=False),
        sa.Column("target", sa.String(length=300), nullable=True),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("force_majeure", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("recorded_by", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "component IN ('bridge', 'reservations')",
            name=op.f("ck_monitoring_outages_component_known"),
        ),
        sa.CheckConstraint(
            "ended_at IS NULL OR ended_at > started_at",
            name=op.f("ck_monitoring_outages_ends_after_start"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_outages")),
    )
    with op.batch_alter_table("monitoring_outages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_monitoring_outages_component_started", ["component", "started_at"], unique=False
        )

    op.create_table(
        "monitoring_pending_probes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("probe_id", sa.Integer(), nullable=False),
        sa.Column("component", sa.String(length=20), nullable=False),
        sa.Column("target", sa.String(length=300), nullable=False),
        sa.Column("minute", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_pending_probes")),
        sa.UniqueConstraint("probe_id", name=op.f("uq_monitoring_pending_probes_probe_id")),
    )
    with op.batch_alter_table("monitoring_pending_probes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_monitoring_pending_probes_minute"), ["minute"], unique=False
        )

    op.create_table(
        "monitoring_probe_rounds",
        sa.Column("minute", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ran_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("minute", name=op.f("pk_monitoring_probe_rounds")),
    )
    op.create_table(
        "monitoring_sla_policies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("weekdays", sa.JSON(), nullable=False),
        sa.Column("opens", sa.String(length=5), nullable=True),
        sa.Column("closes", sa.String(length=5), nullable=True),
        sa.Column("holiday_country", sa.String(length=10), nullable=True),
        sa.Column("holiday_subdiv", sa.String(length=10), nullable=True),
        sa.Column("after_hours_severities", sa.JSON(), nullable=False),
        sa.Column("email_respond_minutes", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_sla_policies")),
        sa.UniqueConstraint("name", name=op.f("uq_monitoring_sla_policies_name")),
    )
    op.create_table(
        "monitoring_customer_policies",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("policy_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["reservations_customers.id"],
            name=op.f("fk_monitoring_customer_policies_customer_id_reservations_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["monitoring_sla_policies.id"],
            name=op.f("fk_monitoring_customer_policies_policy_id_monitoring_sla_policies"),
        ),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_monitoring_customer_policies")),
    )
    op.create_table(
        "monitoring_maintenance_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("window_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["window_id"],
            ["monitoring_maintenance_windows.id"],
            name=op.f("fk_monitoring_maintenance_notices_window_id_monitoring_maintenance_windows"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_maintenance_notices")),
    )
    with op.batch_alter_table("monitoring_maintenance_notices", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_monitoring_maintenance_notices_window_id"), ["window_id"], unique=False
        )

    op.create_table(
        "monitoring_probe_targets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("component", sa.String(length=20), nullable=False),
        sa.Column("target", sa.String(length=300), nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("first_failure_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("open_outage_id", sa.Integer(), nullable=True),
        sa.Column("last_sample_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_ok", sa.Boolean(), nullable=True),
        sa.Column("last_detail", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(
            ["open_outage_id"],
            ["monitoring_outages.id"],
            name=op.f("fk_monitoring_probe_targets_open_outage_id_monitoring_outages"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_probe_targets")),
        sa.UniqueConstraint(
            "component", "target", name=op.f("uq_monitoring_probe_targets_component")
        ),
    )
    op.create_table(
        "monitoring_sla_targets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("policy_id", sa.Integer(), nullable=False),
        sa.Column("severity", sa.String(length=3), nullable=False),
        sa.Column("respond_minutes", sa.Integer(), nullable=False),
        sa.Column("respond_business", sa.Boolean(), nullable=False),
        sa.Column("update_minutes", sa.Integer(), nullable=False),
        sa.Column("update_business", sa.Boolean(), nullable=False),
        sa.Column("resolve_minutes", sa.Integer(), nullable=False),
        sa.Column("resolve_business", sa.Boolean(), nullable=False),
        sa.Column("resolve_goal_minutes", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["monitoring_sla_policies.id"],
            name=op.f("fk_monitoring_sla_targets_policy_id_monitoring_sla_policies"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_sla_targets")),
        sa.UniqueConstraint(
            "policy_id", "severity", name=op.f("uq_monitoring_sla_targets_policy_id")
        ),
    )
    op.create_table(
        "monitoring_tickets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("reporter_id", sa.Integer(), nullable=True),
        sa.Column("reporter_name", sa.String(length=200), nullable=False),
        sa.Column("caller_name", sa.String(length=200), nullable=True),
        sa.Column("caller_company", sa.String(length=200), nullable=True),
        sa.Column("caller_account", sa.String(length=100), nullable=True),
        sa.Column("caller_system", sa.String(length=200), nullable=True),
        sa.Column("suggested_severity", sa.String(length=3), nullable=True),
        sa.Column("severity", sa.String(length=3), nullable=False),
        sa.Column("summary", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("tier", sa.String(length=12), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("policy_id", sa.Integer(), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("respond_by", sa.DateTime(timezone=True), nullable=False),
        sa.Column("responded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_update_by", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_update_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolve_by", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closure_reason", sa.String(length=40), nullable=True),
        sa.Column("paused_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pauses", sa.JSON(), nullable=False),
        sa.CheckConstraint(
            "severity IN ('SL1', 'SL2', 'SL3', 'SL4')",
            name=op.f("ck_monitoring_tickets_severity_known"),
        ),
        sa.CheckConstraint(
            "status IN ('open', 'responded', 'waiting', 'resolved')",
            name=op.f("ck_monitoring_tickets_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["reservations_customers.id"],
            name=op.f("fk_monitoring_tickets_customer_id_reservations_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["monitoring_sla_policies.id"],
            name=op.f("fk_monitoring_tickets_policy_id_monitoring_sla_policies"),
        ),
        sa.ForeignKeyConstraint(
            ["reporter_id"],
            ["bridgedesk_users.id"],
            name=op.f("fk_monitoring_tickets_reporter_id_bridgedesk_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_tickets")),
    )
    with op.batch_alter_table("monitoring_tickets", schema=None) as batch_op:
        batch_op.create_index(
            "ix_monitoring_tickets_customer_status", ["customer_id", "status"], unique=False
        )

    op.create_table(
        "monitoring_ticket_breaches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("notified_tier", sa.String(length=12), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["monitoring_tickets.id"],
            name=op.f("fk_monitoring_ticket_breaches_ticket_id_monitoring_tickets"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_ticket_breaches")),
        sa.UniqueConstraint(
            "ticket_id", "kind", "due_at", name=op.f("uq_monitoring_ticket_breaches_ticket_id")
        ),
    )
    with op.batch_alter_table("monitoring_ticket_breaches", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_monitoring_ticket_breaches_ticket_id"), ["ticket_id"], unique=False
        )

    op.create_table(
        "monitoring_ticket_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("by", sa.String(length=200), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["monitoring_tickets.id"],
            name=op.f("fk_monitoring_ticket_events_ticket_id_monitoring_tickets"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_ticket_events")),
    )
    with op.batch_alter_table("monitoring_ticket_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_monitoring_ticket_events_ticket_id"), ["ticket_id"], unique=False
        )

    _seed_policies()


def downgrade() -> None:
    with op.batch_alter_table("monitoring_ticket_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_monitoring_ticket_events_ticket_id"))

    op.drop_table("monitoring_ticket_events")
    with op.batch_alter_table("monitoring_ticket_breaches", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_monitoring_ticket_breaches_ticket_id"))

    op.drop_table("monitoring_ticket_breaches")
    with op.batch_alter_table("monitoring_tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_monitoring_tickets_customer_status")

    op.drop_table("monitoring_tickets")
    op.drop_table("monitoring_sla_targets")
    op.drop_table("monitoring_probe_targets")
    with op.batch_alter_table("monitoring_maintenance_notices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_monitoring_maintenance_notices_window_id"))

    op.drop_table("monitoring_maintenance_notices")
    op.drop_table("monitoring_customer_policies")
    op.drop_table("monitoring_sla_policies")
    op.drop_table("monitoring_probe_rounds")
    with op.batch_alter_table("monitoring_pending_probes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_monitoring_pending_probes_minute"))

    op.drop_table("monitoring_pending_probes")
    with op.batch_alter_table("monitoring_outages", schema=None) as batch_op:
        batch_op.drop_index("ix_monitoring_outages_component_started")

    op.drop_table("monitoring_outages")
    with op.batch_alter_table("monitoring_monitored_spans", schema=None) as batch_op:
        batch_op.drop_index("ix_monitoring_monitored_spans_component_ended")

    op.drop_table("monitoring_monitored_spans")
    with op.batch_alter_table("monitoring_maintenance_windows", schema=None) as batch_op:
        batch_op.drop_index("ix_monitoring_maintenance_windows_component_starts")

    op.drop_table("monitoring_maintenance_windows")
