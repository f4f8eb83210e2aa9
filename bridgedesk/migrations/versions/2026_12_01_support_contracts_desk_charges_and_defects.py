"""support contracts, best-effort desk charges, defects, phone queue and SLA readings

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EASTERN = "Business hours 08:00-20:00 US/Eastern"
OLD_STATUSES = "status IN ('open', 'responded', 'waiting', 'resolved')"
NEW_STATUSES = "status IN ('open', 'responded', 'waiting', 'awaiting_patch', 'resolved')"


def _eastern_severity_3_on_wall_time(business: bool) -> None:
    """SPEC §6: "Severity 3 within 48 hours" is 48 wall-clock hours (SL2 and SL1)."""
    op.execute(
        sa.text(
            "UPDATE monitoring_sla_targets SET respond_business = :business "
            "WHERE severity IN ('SL2', 'SL1') AND policy_id = "
            "(SELECT id FROM monitoring_sla_policies WHERE name = :name)"
        ).bindparams(business=business, name=EASTERN)
    )


def upgrade() -> None:
    op.create_table(
        "monitoring_support_contracts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("policy_id", sa.Integer(), nullable=True),
        sa.Column("systems", sa.JSON(), nullable=False),
        sa.Column("authorized", sa.JSON(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.CheckConstraint(
            "ends_on IS NULL OR ends_on >= starts_on",
            name=op.f("ck_monitoring_support_contracts_ends_after_start"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["reservations_customers.id"],
            name=op.f("fk_monitoring_support_contracts_customer_id_reservations_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["monitoring_sla_policies.id"],
            name=op.f("fk_monitoring_support_contracts_policy_id_monitoring_sla_policies"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_support_contracts")),
    )
    with op.batch_alter_table("monitoring_support_contracts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_monitoring_support_contracts_customer_id"), ["customer_id"]
        )
    op.create_table(
        "monitoring_defects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("release", sa.String(length=100), nullable=True),
        sa.CheckConstraint(
            "kind IN ('defect', 'enhancement')", name=op.f("ck_monitoring_defects_kind_known")
        ),
        sa.CheckConstraint(
            "status IN ('open', 'released')", name=op.f("ck_monitoring_defects_status_known")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_defects")),
    )
    with op.batch_alter_table("monitoring_tickets", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("clock_started_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("after_hours", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("contract_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("best_effort", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("best_effort_reason", sa.String(length=30), nullable=True))
        batch_op.add_column(
            sa.Column("work_minutes", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("charge_consent_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("charge_consent_by", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("offered_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("related_ticket_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("defect_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_monitoring_tickets_contract_id"), ["contract_id"])
        batch_op.create_index(batch_op.f("ix_monitoring_tickets_offered_at"), ["offered_at"])
        batch_op.create_index(batch_op.f("ix_monitoring_tickets_defect_id"), ["defect_id"])
        batch_op.create_foreign_key(
            batch_op.f("fk_monitoring_tickets_contract_id_monitoring_support_contracts"),
            "monitoring_support_contracts",
            ["contract_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_monitoring_tickets_related_ticket_id_monitoring_tickets"),
            "monitoring_tickets",
            ["related_ticket_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_monitoring_tickets_defect_id_monitoring_defects"),
            "monitoring_defects",
            ["defect_id"],
            ["id"],
        )
        batch_op.drop_constraint(batch_op.f("ck_monitoring_tickets_status_known"), type_="check")
        batch_op.create_check_constraint("status_known", NEW_STATUSES)
        batch_op.create_check_constraint(
            "best_effort_reason_known",
            "best_effort_reason IS NULL OR best_effort_reason IN "
            "('no_contract', 'caller_not_authorized', 'system_not_covered')",
        )
        batch_op.create_check_constraint("work_minutes_not_negative", "work_minutes >= 0")
    op.create_table(
        "monitoring_desk_charges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("charged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("amount", sa.String(length=30), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["monitoring_tickets.id"],
            name=op.f("fk_monitoring_desk_charges_ticket_id_monitoring_tickets"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["reservations_customers.id"],
            name=op.f("fk_monitoring_desk_charges_customer_id_reservations_customers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_desk_charges")),
        sa.UniqueConstraint("ticket_id", name=op.f("uq_monitoring_desk_charges_ticket_id")),
    )
    with op.batch_alter_table("monitoring_desk_charges", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_monitoring_desk_charges_customer_id"), ["customer_id"])
        batch_op.create_index(batch_op.f("ix_monitoring_desk_charges_charged_at"), ["charged_at"])
    op.create_table(
        "billing_billed_extras",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["billing_invoices.id"],
            name=op.f("fk_billing_billed_extras_invoice_id_billing_invoices"),
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_billing_billed_extras")),
    )
    with op.batch_alter_table("billing_billed_extras", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_billing_billed_extras_invoice_id"), ["invoice_id"])
    _eastern_severity_3_on_wall_time(False)


def downgrade() -> None:
    _eastern_severity_3_on_wall_time(True)
    op.drop_table("billing_billed_extras")
    op.drop_table("monitoring_desk_charges")
    with op.batch_alter_table("monitoring_tickets", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("ck_monitoring_tickets_work_minutes_not_negative"), type_="check"
        )
        batch_op.drop_constraint(
            batch_op.f("ck_monitoring_tickets_best_effort_reason_known"), type_="check"
        )
        batch_op.drop_constraint(batch_op.f("ck_monitoring_tickets_status_known"), type_="check")
        batch_op.create_check_constraint("status_known", OLD_STATUSES)
        batch_op.drop_constraint(
            batch_op.f("fk_monitoring_tickets_defect_id_monitoring_defects"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_monitoring_tickets_related_ticket_id_monitoring_tickets"),
            type_="foreignkey",
        )
        batch_op.drop_constraint(
            batch_op.f("fk_monitoring_tickets_contract_id_monitoring_support_contracts"),
            type_="foreignkey",
        )
        batch_op.drop_index(batch_op.f("ix_monitoring_tickets_defect_id"))
        batch_op.drop_index(batch_op.f("ix_monitoring_tickets_offered_at"))
        batch_op.drop_index(batch_op.f("ix_monitoring_tickets_contract_id"))
        for column in (
            "defect_id",
            "related_ticket_id",
            "answered_at",
            "offered_at",
            "charge_consent_by",
            "charge_consent_at",
            "work_minutes",
            "best_effort_reason",
            "best_effort",
            "contract_id",
            "after_hours",
            "clock_started_at",
        ):
            batch_op.drop_column(column)
    op.drop_table("monitoring_defects")
    op.drop_table("monitoring_support_contracts")
