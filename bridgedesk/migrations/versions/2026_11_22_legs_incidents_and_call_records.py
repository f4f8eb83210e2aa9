"""legs, launches, incidents and their timeline, call detail records

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 01:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}")
    )


def upgrade() -> None:
    op.create_table(
        "bridge_launches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conference_id", sa.Integer(), nullable=False),
        sa.Column("bridge_id", sa.Integer(), nullable=True),
        sa.Column("scheduled_start", TZ, nullable=False),
        sa.Column("scheduled_end", TZ, nullable=False),
        sa.Column("launched_at", TZ, nullable=False),
        sa.Column("all_connected_at", TZ, nullable=True),
        sa.Column("on_time", sa.Boolean(), nullable=True),
        sa.Column("ended_at", TZ, nullable=True),
        _fk("bridge_launches", "conference_id", "reservations_conferences"),
        _fk("bridge_launches", "bridge_id", "reservations_bridges"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bridge_launches")),
        sa.UniqueConstraint("conference_id", name=op.f("uq_bridge_launches_conference_id")),
    )
    with op.batch_alter_table("bridge_launches", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bridge_launches_launched_at"), ["launched_at"], unique=False
        )

    op.create_table(
        "bridge_legs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conference_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("bridge_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("parent_leg_id", sa.Integer(), nullable=True),
        sa.Column("origin", sa.String(length=20), nullable=False),
        sa.Column("sip_uri", sa.String(length=300), nullable=False),
        sa.Column("audio_uri", sa.String(length=300), nullable=True),
        sa.Column("speed_kbps", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("dial_id", sa.Integer(), nullable=True),
        sa.Column("next_dial_at", TZ, nullable=True),
        sa.Column("redials", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("first_connected_at", TZ, nullable=True),
        sa.Column("connected_at", TZ, nullable=True),
        sa.Column("state_changed_at", TZ, nullable=False),
        sa.Column("ended_at", TZ, nullable=True),
        _fk("bridge_legs", "conference_id", "reservations_conferences"),
        _fk("bridge_legs", "site_id", "reservations_sites"),
        _fk("bridge_legs", "bridge_id", "reservations_bridges"),
        _fk("bridge_legs", "parent_leg_id", "bridge_legs"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bridge_legs")),
    )
    with op.batch_alter_table("bridge_legs", schema=None) as batch_op:
        batch_op.create_index("ix_bridge_legs_state", ["state"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_bridge_legs_conference_id"), ["conference_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_bridge_legs_site_id"), ["site_id"], unique=False)

    op.create_table(
        "bridge_leg_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("leg_id", sa.Integer(), nullable=False),
        sa.Column("conference_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("dial_id", sa.Integer(), nullable=True),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("requested_at", TZ, nullable=False),
        sa.Column("connected_at", TZ, nullable=True),
        sa.Column("ended_at", TZ, nullable=True),
        sa.Column("final_status", sa.Integer(), nullable=True),
        sa.Column("cause", sa.String(length=40), nullable=True),
        sa.Column("end_reason", sa.String(length=20), nullable=True),
        _fk("bridge_leg_attempts", "leg_id", "bridge_legs"),
        _fk("bridge_leg_attempts", "conference_id", "reservations_conferences"),
        _fk("bridge_leg_attempts", "site_id", "reservations_sites"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bridge_leg_attempts")),
    )
    with op.batch_alter_table("bridge_leg_attempts", schema=None) as batch_op:
        for column in ("leg_id", "conference_id", "dial_id", "requested_at"):
            batch_op.create_index(
                batch_op.f(f"ix_bridge_leg_attempts_{column}"), [column], unique=False
            )

    op.create_table(
        "bridge_incidents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("leg_id", sa.Integer(), nullable=False),
        sa.Column("conference_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("cause", sa.String(length=40), nullable=False),
        sa.Column("began_at", TZ, nullable=False),
        sa.Column("recovery_deadline", TZ, nullable=False),
        sa.Column("restored_at", TZ, nullable=True),
        sa.Column("audio_fallback_at", TZ, nullable=True),
        sa.Column("contacts_notified", sa.Integer(), nullable=False),
        sa.Column("closed_at", TZ, nullable=True),
        _fk("bridge_incidents", "leg_id", "bridge_legs"),
        _fk("bridge_incidents", "conference_id", "reservations_conferences"),
        _fk("bridge_incidents", "site_id", "reservations_sites"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bridge_incidents")),
    )
    with op.batch_alter_table("bridge_incidents", schema=None) as batch_op:
        for column in ("leg_id", "conference_id", "began_at"):
            batch_op.create_index(
                batch_op.f(f"ix_bridge_incidents_{column}"), [column], unique=False
            )

    op.create_table(
        "bridge_incident_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("detail", sa.String(length=500), nullable=False),
        sa.Column("recipient", sa.String(length=254), nullable=True),
        sa.Column("outbox_message_id", sa.Integer(), nullable=True),
        _fk("bridge_incident_events", "incident_id", "bridge_incidents"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bridge_incident_events")),
    )
    with op.batch_alter_table("bridge_incident_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bridge_incident_events_incident_id"), ["incident_id"], unique=False
        )

    op.create_table(
        "bridge_call_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conference_id", sa.Integer(), nullable=False),
        sa.Column("conference_number", sa.String(length=20), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("bridge_id", sa.Integer(), nullable=True),
        sa.Column("leg_id", sa.Integer(), nullable=True),
        sa.Column("connected_at", TZ, nullable=False),
        sa.Column("disconnected_at", TZ, nullable=False),
        sa.Column("speed_kbps", sa.Integer(), nullable=False),
        sa.Column("disconnect_cause", sa.String(length=100), nullable=True),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        _fk("bridge_call_records", "conference_id", "reservations_conferences"),
        _fk("bridge_call_records", "customer_id", "reservations_customers"),
        _fk("bridge_call_records", "site_id", "reservations_sites"),
        _fk("bridge_call_records", "bridge_id", "reservations_bridges"),
        _fk("bridge_call_records", "leg_id", "bridge_legs"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bridge_call_records")),
        sa.UniqueConstraint("site_id", "connected_at", name=op.f("uq_bridge_call_records_site_id")),
    )
    with op.batch_alter_table("bridge_call_records", schema=None) as batch_op:
        batch_op.create_index(
            "ix_bridge_call_records_customer_connected",
            ["customer_id", "connected_at"],
            unique=False,
        )
        batch_op.create_index("ix_bridge_call_records_connected_at", ["connected_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_bridge_call_records_conference_id"), ["conference_id"], unique=False
        )

    if op.get_bind().dialect.name == "postgresql":
        # One site is in one call at a time: two records of a site may not overlap in
        # [connected_at, disconnected_at); back-to-back records (a reconnect) do not. A record
        # ending before it starts is refused by tstzrange itself.
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        op.execute(
            "ALTER TABLE bridge_call_records ADD CONSTRAINT "
            "ex_bridge_call_records_no_overlap EXCLUDE USING gist "
            "(site_id WITH =, tstzrange(connected_at, disconnected_at, '[)') WITH &&)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE bridge_call_records DROP CONSTRAINT ex_bridge_call_records_no_overlap"
        )
    for table in (
        "bridge_call_records",
        "bridge_incident_events",
        "bridge_incidents",
        "bridge_leg_attempts",
        "bridge_legs",
        "bridge_launches",
    ):
        op.drop_table(table)
