"""certification records, test calls, audit history, acted-on faults and watermarks

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "certification_records",
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=40), nullable=False),
        sa.Column("info_received_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deadline_kind", sa.String(length=20), nullable=True),
        sa.Column("rollout_position", sa.Integer(), nullable=True),
        sa.Column("register_by", sa.DateTime(timezone=True), nullable=True),
        sa.Column("certify_by", sa.DateTime(timezone=True), nullable=True),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deadline_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("upgrade_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("upgrade_note", sa.Text(), nullable=True),
        sa.Column("recertification_cause_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("signed_off_by", sa.String(length=200), nullable=True),
        sa.Column("certified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_certified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["reservations_customers.id"],
            name=op.f("fk_certification_records_customer_id_reservations_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["reservations_sites.id"],
            name=op.f("fk_certification_records_site_id_reservations_sites"),
        ),
        sa.PrimaryKeyConstraint("site_id", name=op.f("pk_certification_records")),
    )
    with op.batch_alter_table("certification_records", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_certification_records_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_certification_records_state"), ["state"])
        batch_op.create_index(
            batch_op.f("ix_certification_records_info_received_at"), ["info_received_at"]
        )
        batch_op.create_index(batch_op.f("ix_certification_records_certify_by"), ["certify_by"])

    op.create_table(
        "certification_tests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("probe_id", sa.Integer(), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sip_uri", sa.String(length=300), nullable=False),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("final_status", sa.Integer(), nullable=True),
        sa.Column("setup_ms", sa.Float(), nullable=True),
        sa.Column("codec", sa.String(length=60), nullable=True),
        sa.Column("media_seconds", sa.Float(), nullable=True),
        sa.Column("cause", sa.String(length=40), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["reservations_sites.id"],
            name=op.f("fk_certification_tests_site_id_reservations_sites"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certification_tests")),
    )
    with op.batch_alter_table("certification_tests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_certification_tests_site_id"), ["site_id"])
        batch_op.create_index(batch_op.f("ix_certification_tests_probe_id"), ["probe_id"])
        batch_op.create_index(batch_op.f("ix_certification_tests_outcome"), ["outcome"])

    op.create_table(
        "certification_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("field", sa.String(length=60), nullable=False),
        sa.Column("before", sa.Text(), nullable=True),
        sa.Column("after", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["reservations_sites.id"],
            name=op.f("fk_certification_history_site_id_reservations_sites"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certification_history")),
    )
    with op.batch_alter_table("certification_history", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_certification_history_site_id"), ["site_id"])

    op.create_table(
        "certification_sign_offs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("test_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(length=200), nullable=False),
        sa.Column("deadline_kind", sa.String(length=20), nullable=True),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=True),
        sa.Column("on_time", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["reservations_sites.id"],
            name=op.f("fk_certification_sign_offs_site_id_reservations_sites"),
        ),
        sa.ForeignKeyConstraint(
            ["test_id"],
            ["certification_tests.id"],
            name=op.f("fk_certification_sign_offs_test_id_certification_tests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certification_sign_offs")),
    )
    with op.batch_alter_table("certification_sign_offs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_certification_sign_offs_site_id"), ["site_id"])
        batch_op.create_index(batch_op.f("ix_certification_sign_offs_at"), ["at"])

    op.create_table(
        "certification_faults",
        sa.Column("leg_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("conference_id", sa.Integer(), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["reservations_sites.id"],
            name=op.f("fk_certification_faults_site_id_reservations_sites"),
        ),
        sa.PrimaryKeyConstraint("leg_id", "kind", "at", name=op.f("pk_certification_faults")),
    )
    with op.batch_alter_table("certification_faults", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_certification_faults_site_id"), ["site_id"])

    op.create_table(
        "certification_watermarks",
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("value", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_certification_watermarks")),
    )


def downgrade() -> None:
    op.drop_table("certification_watermarks")
    with op.batch_alter_table("certification_faults", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_certification_faults_site_id"))
    op.drop_table("certification_faults")
    with op.batch_alter_table("certification_sign_offs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_certification_sign_offs_at"))
        batch_op.drop_index(batch_op.f("ix_certification_sign_offs_site_id"))
    op.drop_table("certification_sign_offs")
    with op.batch_alter_table("certification_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_certification_history_site_id"))
    op.drop_table("certification_history")
    with op.batch_alter_table("certification_tests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_certification_tests_outcome"))
        batch_op.drop_index(batch_op.f("ix_certification_tests_probe_id"))
        batch_op.drop_index(batch_op.f("ix_certification_tests_site_id"))
    op.drop_table("certification_tests")
    with op.batch_alter_table("certification_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_certification_records_certify_by"))
        batch_op.drop_index(batch_op.f("ix_certification_records_info_received_at"))
        batch_op.drop_index(batch_op.f("ix_certification_records_state"))
        batch_op.drop_index(batch_op.f("ix_certification_records_customer_id"))
    op.drop_table("certification_records")
