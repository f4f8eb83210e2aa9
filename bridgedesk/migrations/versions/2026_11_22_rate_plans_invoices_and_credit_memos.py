"""rate plans, invoices, billed conferences, credit memos, counters, month runs, deliveries

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 01:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "billing_rate_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("speed_tiers", sa.JSON(), nullable=False),
        sa.Column("zones", sa.JSON(), nullable=False),
        sa.Column("features", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=254), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["reservations_customers.id"],
            name=op.f("fk_billing_rate_plans_customer_id_reservations_customers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_rate_plans")),
        sa.UniqueConstraint(
            "customer_id", "effective_from", name=op.f("uq_billing_rate_plans_customer_id")
        ),
    )
    op.create_index(
        op.f("ix_billing_rate_plans_customer_id"), "billing_rate_plans", ["customer_id"]
    )
    op.create_table(
        "billing_invoices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("total_minor", sa.BigInteger(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("issued_by", sa.String(length=254), nullable=True),
        sa.CheckConstraint(
            "status IN ('draft', 'issued')", name=op.f("ck_billing_invoices_status_known")
        ),
        sa.CheckConstraint(
            "(status = 'issued') = (number IS NOT NULL)",
            name=op.f("ck_billing_invoices_issued_numbered"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["reservations_customers.id"],
            name=op.f("fk_billing_invoices_customer_id_reservations_customers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_invoices")),
        sa.UniqueConstraint("number", name=op.f("uq_billing_invoices_number")),
    )
    op.create_index(op.f("ix_billing_invoices_customer_id"), "billing_invoices", ["customer_id"])
    op.create_index(op.f("ix_billing_invoices_period"), "billing_invoices", ["period"])
    op.create_index(op.f("ix_billing_invoices_status"), "billing_invoices", ["status"])
    op.create_index(
        "uq_billing_invoices_one_draft",
        "billing_invoices",
        ["customer_id", "period"],
        unique=True,
        postgresql_where=sa.text("status = 'draft'"),
        sqlite_where=sa.text("status = 'draft'"),
    )
    _freeze_issued_invoices()
    op.create_table(
        "billing_billed_conferences",
        sa.Column("conference_id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("conference_number", sa.String(length=20), nullable=False),
        sa.Column("total_minor", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["conference_id"],
            ["reservations_conferences.id"],
            name=op.f("fk_billing_billed_conferences_conference_id_reservations_conferences"),
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["billing_invoices.id"],
            name=op.f("fk_billing_billed_conferences_invoice_id_billing_invoices"),
        ),
        sa.PrimaryKeyConstraint("conference_id", name=op.f("pk_billing_billed_conferences")),
    )
    op.create_index(
        op.f("ix_billing_billed_conferences_invoice_id"),
        "billing_billed_conferences",
        ["invoice_id"],
    )
    op.create_index(
        op.f("ix_billing_billed_conferences_conference_number"),
        "billing_billed_conferences",
        ["conference_number"],
    )
    op.create_table(
        "billing_credit_memos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=20), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("conference_id", sa.Integer(), nullable=False),
        sa.Column("conference_number", sa.String(length=20), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=254), nullable=False),
        sa.Column("shown_on_invoice_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "amount_minor > 0", name=op.f("ck_billing_credit_memos_amount_positive")
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["reservations_customers.id"],
            name=op.f("fk_billing_credit_memos_customer_id_reservations_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["billing_invoices.id"],
            name=op.f("fk_billing_credit_memos_invoice_id_billing_invoices"),
        ),
        sa.ForeignKeyConstraint(
            ["conference_id"],
            ["reservations_conferences.id"],
            name=op.f("fk_billing_credit_memos_conference_id_reservations_conferences"),
        ),
        sa.ForeignKeyConstraint(
            ["shown_on_invoice_id"],
            ["billing_invoices.id"],
            name=op.f("fk_billing_credit_memos_shown_on_invoice_id_billing_invoices"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_credit_memos")),
        sa.UniqueConstraint("number", name=op.f("uq_billing_credit_memos_number")),
    )
    op.create_index(
        op.f("ix_billing_credit_memos_customer_id"), "billing_credit_memos", ["customer_id"]
    )
    op.create_index(
        op.f("ix_billing_credit_memos_invoice_id"), "billing_credit_memos", ["invoice_id"]
    )
    op.create_table(
        "billing_counters",
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last_value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "year", name=op.f("pk_billing_counters")),
    )
    op.create_table(
        "billing_month_runs",
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("ran_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("drafted", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("period", name=op.f("pk_billing_month_runs")),
    )
    op.create_table(
        "billing_pending_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('invoice', 'credit_memo')",
            name=op.f("ck_billing_pending_deliveries_kind_known"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_billing_pending_deliveries")),
        sa.UniqueConstraint("kind", "document_id", name=op.f("uq_billing_pending_deliveries_kind")),
    )


def _freeze_issued_invoices() -> None:
    """The database itself refuses to change or delete an issued invoice."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION billing_refuse_issued_change() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'issued invoice % is immutable', OLD.number
                    USING ERRCODE = 'integrity_constraint_violation';
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            "CREATE TRIGGER billing_invoices_frozen BEFORE UPDATE OR DELETE ON billing_invoices "
            "FOR EACH ROW WHEN (OLD.status = 'issued') "
            "EXECUTE FUNCTION billing_refuse_issued_change()"
        )
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER billing_invoices_frozen_{event.lower()} BEFORE {event} "
                "ON billing_invoices FOR EACH ROW WHEN OLD.status = 'issued' "
                "BEGIN SELECT RAISE(ABORT, 'issued invoices are immutable'); END"
            )


def downgrade() -> None:
    op.drop_table("billing_pending_deliveries")
    op.drop_table("billing_month_runs")
    op.drop_table("billing_counters")
    op.drop_table("billing_credit_memos")
    op.drop_table("billing_billed_conferences")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS billing_invoices_frozen ON billing_invoices")
        op.execute("DROP FUNCTION IF EXISTS billing_refuse_issued_change()")
    op.drop_table("billing_invoices")
    op.drop_table("billing_rate_plans")
