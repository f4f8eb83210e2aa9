"""The documents as the API, the pages and the renditions show them, read from their rows."""

from typing import Any

from billing.models import CreditMemo, Invoice
from billing.service.rating import from_minor, money_str


def invoice_view(invoice: Invoice) -> dict[str, Any]:
    """The API document: stored lines plus the invoice's own id, number and status."""
    return {
        "id": invoice.id,
        "number": invoice.number,
        "status": invoice.status,
        "issued_at": invoice.issued_at.isoformat() if invoice.issued_at else None,
        **invoice.document,
    }


def summary_view(invoice: Invoice) -> dict[str, Any]:
    return {
        "id": invoice.id,
        "number": invoice.number,
        "status": invoice.status,
        "customer_id": invoice.customer_id,
        "customer_name": invoice.document.get("customer_name"),
        "period": invoice.period,
        "currency": invoice.currency,
        "total": money_str(from_minor(invoice.total_minor, invoice.currency), invoice.currency),
        "conference_count": len(invoice.document.get("conferences", [])),
        "issued_at": invoice.issued_at.isoformat() if invoice.issued_at else None,
    }


def memo_view(memo: CreditMemo, invoice: Invoice) -> dict[str, Any]:
    return {
        "id": memo.id,
        "number": memo.number,
        "customer_id": memo.customer_id,
        "customer_name": invoice.document.get("customer_name"),
        "bill_to": invoice.document.get("bill_to", []),
        "invoice_id": invoice.id,
        "invoice_number": invoice.number,
        "invoice_period": invoice.period,
        "conference_number": memo.conference_number,
        "currency": memo.currency,
        "amount": money_str(from_minor(memo.amount_minor, memo.currency), memo.currency),
        "reason": memo.reason,
        "created_at": memo.created_at.isoformat(),
        "shown_on_invoice_id": memo.shown_on_invoice_id,
    }
