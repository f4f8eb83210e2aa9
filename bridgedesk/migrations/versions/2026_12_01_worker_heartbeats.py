"""worker heartbeats

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 20:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bridgedesk_worker_heartbeats",
        sa.Column("worker", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_beat", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("worker", name=op.f("pk_bridgedesk_worker_heartbeats")),
    )
    with op.batch_alter_table("bridgedesk_worker_heartbeats", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bridgedesk_worker_heartbeats_last_beat"), ["last_beat"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("bridgedesk_worker_heartbeats", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bridgedesk_worker_heartbeats_last_beat"))
    op.drop_table("bridgedesk_worker_heartbeats")
