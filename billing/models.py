"""The billing package's tables, each name prefixed by the package.

Money is stored exactly on every database: rate-plan prices as decimal strings inside their
JSON, invoice and credit-memo amounts as integer counts of the currency's minor unit.
"""

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from bridgedesk.db import Base, UTCDateTime


class RatePlan(Base):
    """One version of a customer's rate plan; the version in force is the latest started."""

    __tablename__ = "billing_rate_plans"
    __table_args__ = (UniqueConstraint("customer_id", "effective_from"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("reservations_customers.id"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    # A date in the customer's time zone: legs connecting on or after it use this version.
    effective_from: Mapped[date] = mapped_column(Date)
    # [{up_to_kbps: int | None, per_minute: "0.20"}]
    speed_tiers: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    # {ZONE: {multiplier: "1.5", surcharge_per_minute: "0.05"}}
    zones: Mapped[dict[str, dict[str, str]]] = mapped_column(JSON)
    # [{code, name, per: conference|minute|site, price: "5.00"}]
    features: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(254))


class Invoice(Base):
    """A customer's invoice for one month: a draft until issued, then frozen for good."""

    __tablename__ = "billing_invoices"
    __table_args__ = (
        CheckConstraint("status IN ('draft', 'issued')", name="status_known"),
        CheckConstraint("(status = 'issued') = (number IS NOT NULL)", name="issued_numbered"),
        # One draft per customer and month: two runs at once cannot both add one.
        Index(
            "uq_billing_invoices_one_draft",
            "customer_id",
            "period",
            unique=True,
            postgresql_where=text("status = 'draft'"),
            sqlite_where=text("status = 'draft'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # INV-YYYY-NNNNNN, gapless per year, assigned on issue.
    number: Mapped[str | None] = mapped_column(String(20), unique=True)
    status: Mapped[str] = mapped_column(String(10), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("reservations_customers.id"), index=True)
    period: Mapped[str] = mapped_column(String(7), index=True)  # YYYY-MM
    currency: Mapped[str] = mapped_column(String(3))
    total_minor: Mapped[int] = mapped_column(BigInteger)
    # The API document (conferences, sites, features, legs for "explain"); frozen on issue.
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    issued_by: Mapped[str | None] = mapped_column(String(254))


class BilledConference(Base):
    """A conference on an issued invoice: unique, so no conference is ever billed twice."""

    __tablename__ = "billing_billed_conferences"

    conference_id: Mapped[int] = mapped_column(
        ForeignKey("reservations_conferences.id"), primary_key=True
    )
    invoice_id: Mapped[int] = mapped_column(ForeignKey("billing_invoices.id"), index=True)
    conference_number: Mapped[str] = mapped_column(String(20), index=True)
    total_minor: Mapped[int] = mapped_column(BigInteger)


class CreditMemo(Base):
    """A credit against a conference on an issued invoice: its own numbered document."""

    __tablename__ = "billing_credit_memos"
    __table_args__ = (CheckConstraint("amount_minor > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)  # CM-YYYY-NNNNNN
    customer_id: Mapped[int] = mapped_column(ForeignKey("reservations_customers.id"), index=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("billing_invoices.id"), index=True)
    conference_id: Mapped[int] = mapped_column(ForeignKey("reservations_conferences.id"))
    conference_number: Mapped[str] = mapped_column(String(20))
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(254))
    # The next invoice whose cover lists it, set when that invoice is issued.
    shown_on_invoice_id: Mapped[int | None] = mapped_column(ForeignKey("billing_invoices.id"))


class Counter(Base):
    """The last number handed out per document kind and year; locked FOR UPDATE to issue."""

    __tablename__ = "billing_counters"

    kind: Mapped[str] = mapped_column(String(10), primary_key=True)  # "INV" | "CM"
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer)


class MonthRun(Base):
    """A month the monthly job has drafted: where the next run picks up after downtime."""

    __tablename__ = "billing_month_runs"

    period: Mapped[str] = mapped_column(String(7), primary_key=True)  # YYYY-MM
    ran_at: Mapped[datetime] = mapped_column(UTCDateTime)
    drafted: Mapped[int] = mapped_column(Integer)


class PendingDelivery(Base):
    """An issued invoice or credit memo whose PDF email is still to be queued.

    Written in the issuing transaction, so the delivery is as durable as the number; the
    delivery job renders the PDF (slow for a large invoice) outside that transaction, so no
    one waits on the counter's lock while a PDF is drawn.
    """

    __tablename__ = "billing_pending_deliveries"
    __table_args__ = (
        CheckConstraint("kind IN ('invoice', 'credit_memo')", name="kind_known"),
        UniqueConstraint("kind", "document_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))
    document_id: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class BilledExtra(Base):
    """A charge from outside the call records (e.g. the help desk's best-effort work) on an
    issued invoice: keyed by its source's key, so it is never billed twice."""

    __tablename__ = "billing_billed_extras"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("billing_invoices.id"), index=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
