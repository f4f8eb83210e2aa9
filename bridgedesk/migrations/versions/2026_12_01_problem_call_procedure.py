"""the problem-call procedure: an incident's ordered steps and each attempt's outcome

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 20:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}")
    )


def upgrade() -> None:
    op.create_table(
        "bridge_procedure_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("purpose", sa.String(length=200), nullable=False),
        sa.Column("chain_index", sa.Integer(), nullable=True),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column("contact_name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("phone", sa.String(length=300), nullable=True),
        sa.Column("pager", sa.String(length=100), nullable=True),
        sa.Column("mobile", sa.String(length=100), nullable=True),
        sa.Column("opened_at", TZ, nullable=False),
        _fk("bridge_procedure_steps", "incident_id", "bridge_incidents"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bridge_procedure_steps")),
        sa.UniqueConstraint(
            "incident_id", "position", name=op.f("uq_bridge_procedure_steps_incident_id")
        ),
    )
    with op.batch_alter_table("bridge_procedure_steps", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bridge_procedure_steps_incident_id"), ["incident_id"], unique=False
        )
    op.create_table(
        "bridge_procedure_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("step_id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("made_by_id", sa.Integer(), nullable=True),
        sa.Column("made_by", sa.String(length=200), nullable=False),
        sa.Column("outbox_message_id", sa.Integer(), nullable=True),
        _fk("bridge_procedure_attempts", "step_id", "bridge_procedure_steps"),
        _fk("bridge_procedure_attempts", "incident_id", "bridge_incidents"),
        _fk("bridge_procedure_attempts", "made_by_id", "bridgedesk_users"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bridge_procedure_attempts")),
    )
    with op.batch_alter_table("bridge_procedure_attempts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bridge_procedure_attempts_step_id"), ["step_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_bridge_procedure_attempts_incident_id"), ["incident_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("bridge_procedure_attempts")
    op.drop_table("bridge_procedure_steps")
