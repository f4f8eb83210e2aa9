"""Pydantic models of the billing API: rate plans, runs, invoices and credit memos.

Amounts travel as decimal strings ("0.25"), never as JSON numbers, so no float touches them.
"""

from datetime import date
from typing import Annotated, Literal, Self

from annotated_types import Ge, Le
from pydantic import BaseModel, ConfigDict, Field

from billing.models import CreditMemo, Invoice
from billing.service.rating import from_minor, money_str
from bridgedesk.schemas import FromRow, Id, Strict

Amount = Annotated[str, Field(min_length=1, max_length=30, examples=["0.25"])]
Month = Annotated[str, Field(pattern=r"^\d{4}-\d{2}$", examples=["2026-10"])]


class TierIn(Strict):
    up_to_kbps: Annotated[int, Ge(1), Le(1_000_000)] | None
    per_minute: Amount


class ZoneIn(Strict):
    multiplier: Amount | None = None
    surcharge_per_minute: Amount | None = None


class FeatureIn(Strict):
    code: Annotated[str, Field(min_length=1, max_length=40)]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    per: Literal["conference", "minute", "site"]
    price: Amount


class RatePlanIn(Strict):
    customer_id: Id
    currency: Annotated[str, Field(min_length=3, max_length=3)]
    effective_from: date
    speed_tiers: Annotated[list[TierIn], Field(min_length=1, max_length=20)]
    zones: Annotated[dict[Annotated[str, Field(max_length=40)], ZoneIn], Field(max_length=100)] = (
        Field(default_factory=dict)
    )
    features: Annotated[list[FeatureIn], Field(max_length=50)] = Field(default_factory=list)


class TierOut(BaseModel):
    up_to_kbps: int | None
    per_minute: str


class ZoneOut(BaseModel):
    multiplier: str
    surcharge_per_minute: str


class FeatureOut(BaseModel):
    code: str
    name: str
    per: str
    price: str


class RatePlanOut(FromRow):
    id: int
    customer_id: int
    currency: str
    effective_from: date
    speed_tiers: list[TierOut]
    zones: dict[str, ZoneOut]
    features: list[FeatureOut]
    created_by: str


class RunIn(Strict):
    month: Month
    customer_id: Id | None = None


class RunOut(FromRow):
    period: str
    drafted: list[int]
    removed: int
    conferences: int
    problems: list[str]


class CreditMemoIn(Strict):
    invoice_id: Id
    conference_number: Annotated[str, Field(min_length=1, max_length=20)]
    amount: Amount
    reason: Annotated[str, Field(min_length=1, max_length=2000)]


class _Stored(BaseModel):
    """A part of a stored invoice document (JSON written by drafting): every key is known,
    so a key drafting adds without adding it here fails loudly instead of vanishing."""

    model_config = ConfigDict(extra="forbid")


class LegLine(_Stored):
    record_id: int
    connected_at: str  # ISO 8601 in the customer's zone, exactly as drafted
    disconnected_at: str
    seconds: str
    minutes: int
    speed_kbps: int
    plan_id: int
    tier_up_to_kbps: int | None
    tier_per_minute: str
    zone_multiplier: str
    zone_surcharge: str
    rate: str
    amount: str


class SiteLine(_Stored):
    site_id: int
    site_name: str
    billing_zone: str
    speed_kbps: int
    minutes: int
    charges: str
    unrounded: str
    legs: list[LegLine]


class FeatureLine(_Stored):
    code: str
    name: str
    per: str | None
    quantity: int
    price: str
    unrounded: str
    charges: str
    plan_id: int


class ConferenceLine(_Stored):
    conference_id: int
    conference_number: str
    title: str
    start: str
    scheduled_end: str
    first_connected_at: str
    last_disconnected_at: str
    duration_minutes: int
    total_minutes: int
    total_charges: str
    project_code: str | None
    leader_name: str
    requester_name: str
    recorded: bool
    sites: list[SiteLine]
    features: list[FeatureLine]


class CreditMemoLine(_Stored):
    id: int
    number: str
    invoice_id: int
    invoice_number: str | None
    conference_number: str
    amount: str
    currency: str
    reason: str


class InvoiceDocument(_Stored):
    """The invoice as drafted and frozen at issue (`Invoice.document`)."""

    customer_id: int
    customer_name: str
    customer_timezone: str
    period: str
    currency: str
    bill_to: list[str]
    total: str
    total_minutes: int
    conferences: list[ConferenceLine]
    credit_memos: list[CreditMemoLine]
    drafted_at: str
    issued_at: str | None = None  # written into the document when it is issued


class InvoiceOut(InvoiceDocument):
    """The API's invoice (also what the pages and renditions show): the stored document plus
    the invoice's own id, number and status."""

    id: int
    number: str | None
    status: str

    @classmethod
    def from_model(cls, invoice: Invoice) -> Self:
        issued_at = invoice.issued_at.isoformat() if invoice.issued_at else None
        return cls.model_validate(
            {
                "id": invoice.id,
                "number": invoice.number,
                "status": invoice.status,
                "issued_at": issued_at,
                **invoice.document,
            }
        )


class InvoiceSummaryOut(BaseModel):
    id: int
    number: str | None
    status: str
    customer_id: int
    customer_name: str | None
    period: str
    currency: str
    total: str
    conference_count: int
    issued_at: str | None

    @classmethod
    def from_model(cls, invoice: Invoice) -> Self:
        return cls(
            id=invoice.id,
            number=invoice.number,
            status=invoice.status,
            customer_id=invoice.customer_id,
            customer_name=invoice.document.get("customer_name"),
            period=invoice.period,
            currency=invoice.currency,
            total=money_str(from_minor(invoice.total_minor, invoice.currency), invoice.currency),
            conference_count=len(invoice.document.get("conferences", [])),
            issued_at=invoice.issued_at.isoformat() if invoice.issued_at else None,
        )


class InvoiceList(BaseModel):
    items: list[InvoiceSummaryOut]
    total: int


class CreditMemoOut(BaseModel):
    id: int
    number: str
    customer_id: int
    customer_name: str | None
    bill_to: list[str]
    invoice_id: int
    invoice_number: str | None
    invoice_period: str
    conference_number: str
    currency: str
    amount: str
    reason: str
    created_at: str
    shown_on_invoice_id: int | None

    @classmethod
    def from_model(cls, memo: CreditMemo, invoice: Invoice) -> Self:
        return cls(
            id=memo.id,
            number=memo.number,
            customer_id=memo.customer_id,
            customer_name=invoice.document.get("customer_name"),
            bill_to=invoice.document.get("bill_to", []),
            invoice_id=invoice.id,
            invoice_number=invoice.number,
            invoice_period=invoice.period,
            conference_number=memo.conference_number,
            currency=memo.currency,
            amount=money_str(from_minor(memo.amount_minor, memo.currency), memo.currency),
            reason=memo.reason,
            created_at=memo.created_at.isoformat(),
            shown_on_invoice_id=memo.shown_on_invoice_id,
        )


class CreditMemoList(BaseModel):
    items: list[CreditMemoOut]
    total: int
