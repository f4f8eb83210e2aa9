"""The invoice document as shown (`documents.InvoiceView`): typed over what drafting stores,
so a key the stored JSON gains without the type knowing it fails loudly, never vanishes."""

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from billing.models import Invoice
from billing.service.documents import InvoiceView

DOCUMENT: dict[str, object] = {
    "customer_id": 7,
    "customer_name": "Acme",
    "customer_timezone": "Europe/Oslo",
    "period": "2026-10",
    "currency": "NOK",
    "bill_to": ["ap@acme.example"],
    "total": "0.00",
    "total_minutes": 0,
    "conferences": [],
    "credit_memos": [],
    "drafted_at": "2026-11-01T00:05:00+00:00",
}


def invoice(**document: object) -> Invoice:
    return Invoice(
        id=3,
        number="INV-2026-000003",
        status="issued",
        customer_id=7,
        period="2026-10",
        currency="NOK",
        total_minor=0,
        document={**DOCUMENT, **document},
        issued_at=datetime(2026, 11, 2, 9, 0, tzinfo=UTC),
    )


def test_the_stored_issue_instant_is_shown_as_stored():
    shown = InvoiceView.from_model(invoice(issued_at="2026-11-02T10:00:00+01:00"))
    assert shown.issued_at == "2026-11-02T10:00:00+01:00"
    assert shown.model_dump()["bill_to"] == ["ap@acme.example"]


def test_a_draft_without_the_key_shows_the_row_s_instant():
    assert InvoiceView.from_model(invoice()).issued_at == "2026-11-02T09:00:00+00:00"


def test_a_key_the_type_does_not_know_is_refused():
    with pytest.raises(ValidationError, match="discount"):
        InvoiceView.from_model(invoice(discount="5.00"))
