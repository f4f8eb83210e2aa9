"""The invoice and credit memo documents as the API, the pages, the renditions and the
emails show them: typed over the JSON that drafting stores in `Invoice.document`."""

from typing import Self

from pydantic import BaseModel, ConfigDict

from billing.models import CreditMemo, Invoice
from billing.service.rating import from_minor, money_str


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


class ExtraChargeLine(_Stored):
    """A line of its own beside the conferences (e.g. best-effort help-desk work)."""

    key: str
    kind: str
    reference: str
    description: str
    date: str
    minutes: int
    amount: str


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
    # Drafts made before extra charges existed have none.
    extra_charges: list[ExtraChargeLine] = []
    drafted_at: str
    issued_at: str | None = None  # written into the document when it is issued


class InvoiceView(InvoiceDocument):
    """The invoice as shown (API, pages, renditions, email): the stored document plus
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


class InvoiceSummaryView(BaseModel):
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


class CreditMemoView(BaseModel):
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
