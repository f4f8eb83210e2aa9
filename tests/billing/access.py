"""The billing package's rows of the API access table (tests/bridgedesk/test_auth_access.py)."""

from datetime import UTC, datetime
from typing import Any

import pytest

from billing.models import BilledConference, CreditMemo, Invoice
from bridgedesk.identity import Role
from bridgedesk.models import User
from reservations.models import Conference
from tests.access_rules import Rule, World

RUNNERS = frozenset({Role.ADMIN, Role.FINANCE})
READERS = RUNNERS | {Role.BILLING}
ISSUE = ("POST", "/api/v1/invoices/{invoice_id}/issue")

ACCESS: dict[tuple[str, str], Rule] = {
    ("POST", "/api/v1/rate-plans"): Rule(RUNNERS),
    ("GET", "/api/v1/rate-plans"): Rule(RUNNERS),
    ("POST", "/api/v1/invoices/run"): Rule(RUNNERS),
    ("GET", "/api/v1/invoices"): Rule(READERS),
    ("GET", "/api/v1/invoices/{invoice_id}"): Rule(READERS, tenant=True),
    ("GET", "/api/v1/invoices/{invoice_id}.pdf"): Rule(READERS, tenant=True),
    ("GET", "/api/v1/invoices/{invoice_id}.csv"): Rule(READERS, tenant=True),
    ("GET", "/api/v1/invoices/{invoice_id}.html"): Rule(READERS, tenant=True),
    ISSUE: Rule(RUNNERS),
    ("POST", "/api/v1/credit-memos"): Rule(RUNNERS),
    ("GET", "/api/v1/credit-memos"): Rule(READERS),
    ("GET", "/api/v1/credit-memos/{memo_id}"): Rule(READERS, tenant=True),
    ("GET", "/api/v1/credit-memos/{memo_id}.pdf"): Rule(READERS, tenant=True),
}


def _document(world: World, number: str, total: str) -> dict[str, Any]:
    return {
        "customer_id": world.customer_id,
        "customer_name": "Customer A",
        "customer_timezone": "Pacific/Kiritimati",
        "period": "2026-10",
        "currency": "USD",
        "bill_to": ["billing@customer.example"],
        "total": total,
        "total_minutes": 10 if number else 0,
        "conferences": [
            {
                "conference_id": world.conference_id,
                "conference_number": number,
                "title": "Access check",
                "start": "2026-10-05T10:00:00+14:00",
                "scheduled_end": "2026-10-05T11:00:00+14:00",
                "duration_minutes": 10,
                "total_minutes": 10,
                "total_charges": total,
                "project_code": None,
                "leader_name": "Lee",
                "requester_name": "Sam",
                "recorded": False,
                "first_connected_at": "2026-10-05T10:00:00+14:00",
                "last_disconnected_at": "2026-10-05T10:10:00+14:00",
                "sites": [],
                "features": [],
            }
        ]
        if number
        else [],
        "credit_memos": [],
        "drafted_at": "2026-11-01T00:00:00+00:00",
    }


async def prepare(world: World, request: pytest.FixtureRequest) -> None:
    """An issued invoice of customer A billing its conference, a credit memo on it, and an
    empty draft (the issue route is tried on the draft)."""
    db = request.getfixturevalue("db")
    now = datetime(2026, 11, 1, tzinfo=UTC)
    conference = await db.get(Conference, world.conference_id)
    issued = Invoice(
        number="INV-2026-900001",
        status="issued",
        customer_id=world.customer_id,
        period="2026-10",
        currency="USD",
        total_minor=1000,
        document=_document(world, conference.number, "10.00"),
        created_at=now,
        issued_at=now,
        issued_by="finance@example.com",
    )
    draft = Invoice(
        status="draft",
        customer_id=world.customer_id,
        period="2026-10",
        currency="USD",
        total_minor=0,
        document=_document(world, "", "0.00"),
        created_at=now,
    )
    db.add_all([issued, draft])
    await db.flush()
    db.add(
        BilledConference(
            conference_id=conference.id,
            invoice_id=issued.id,
            conference_number=conference.number,
            total_minor=1000,
        )
    )
    memo = CreditMemo(
        number="CM-2026-900001",
        customer_id=world.customer_id,
        invoice_id=issued.id,
        conference_id=conference.id,
        conference_number=conference.number,
        currency="USD",
        amount_minor=100,
        reason="Access check",
        created_at=now,
        created_by="finance@example.com",
    )
    db.add(memo)
    await db.flush()
    # Tests of the table not parametrized by route (tenancy of lists, user rules) have no callspec.
    callspec = getattr(request.node, "callspec", None)
    route = callspec.params.get("route") if callspec else None
    world.ids["invoice_id"] = draft.id if route == ISSUE else issued.id
    world.ids["memo_id"] = memo.id
    # Conference numbers are C-<booking year>-<id> (reservations' rule); ids here are ints.
    world.ids["conference_year"] = int(conference.number.split("-")[1])


def request_for(route: tuple[str, str], world: World, caller: User | None) -> dict[str, Any]:
    """A well-formed request for one of this package's routes."""
    if route == ("POST", "/api/v1/rate-plans"):
        return {
            "json": {
                "customer_id": world.customer_id,
                "currency": "USD",
                "effective_from": "2026-01-01",
                "speed_tiers": [
                    {"up_to_kbps": 768, "per_minute": "0.20"},
                    {"up_to_kbps": None, "per_minute": "0.40"},
                ],
                "zones": {"PACIFIC": {"surcharge_per_minute": "0.05"}},
                "features": [
                    {"code": "REC", "name": "Recording", "per": "conference", "price": "5.00"}
                ],
            }
        }
    if route == ("POST", "/api/v1/invoices/run"):
        return {"json": {"month": "2026-10", "customer_id": world.customer_id}}
    if route == ("GET", "/api/v1/invoices"):
        return {"params": {"customer_id": world.customer_id, "month": "2026-10"}}
    if route == ("POST", "/api/v1/credit-memos"):
        return {
            "json": {
                "invoice_id": world.ids["invoice_id"],
                "amount": "1.00",
                "reason": "Access check",
                "conference_number": _number_of(world),
            }
        }
    return {}


def _number_of(world: World) -> str:
    return f"C-{world.ids['conference_year']}-{world.conference_id:06d}"
