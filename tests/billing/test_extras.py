"""Best-effort help-desk work on the monthly invoice, worked by hand: with 9, 10 and 11
minutes of work and the customer's consent on each, only the 11-minute issue is charged,
once, as a line of its own (ticket, date, minutes, amount) that re-adds to the total; issuing
bills it for good, so running the month again never bills it twice.

Monitoring records the charge, billing drafts it, and the app wiring connects the two
(bridgedesk/figures.py); the app fixture installs it as `create_app` does."""

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select

from billing.models import BilledExtra
from billing.service import extras
from bridgedesk.identity import Role

WORKED = datetime(2026, 10, 20, 15, 0, tzinfo=UTC)  # 11:00 on 20 October in New York
BILLING_DAY = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def _ok(response, status=200):
    assert response.status_code == status, response.text
    return response.json()


async def test_best_effort_minutes_9_10_and_11_and_the_invoice(
    db, make_customer, make_site, make_plan, held_conference, add_leg, client_as
):
    acme = await make_customer(timezone="America/New_York", billing_emails=["ap@acme.example"])
    ny = await make_site(customer=acme, name="New York", billing_zone="US")
    await make_plan(acme, effective_from=date(2026, 1, 1))
    held = await held_conference(acme, [ny], WORKED - timedelta(days=5))
    await add_leg(held, ny, WORKED - timedelta(days=5), 600, 768)  # 10 min x 0.20 = 2.00
    with time_machine.travel(WORKED, tick=False):
        desk = await client_as(Role.OPERATOR)
        scheduler = await client_as(Role.SCHEDULER, customer_id=acme.id)
        ids = {}
        for minutes in (9, 10, 11):
            opened = await _ok(
                await desk.post(
                    "/api/v1/tickets",
                    json={
                        "customer_id": acme.id,
                        "severity": "SL1",
                        "summary": f"Training question ({minutes} min)",
                        "description": "How do I add a site to a running meeting?",
                        "channel": "phone",
                        "caller_name": "Pat Caller",
                    },
                ),
                201,
            )
            assert (opened["best_effort"], opened["best_effort_reason"]) == (True, "no_contract")
            ids[minutes] = opened["id"]
            # Work in two entries; past 10 minutes nothing is charged before consent.
            await _ok(await desk.post(f"/api/v1/tickets/{opened['id']}/work", json={"minutes": 5}))
            worked = await _ok(
                await desk.post(
                    f"/api/v1/tickets/{opened['id']}/work", json={"minutes": minutes - 5}
                )
            )
            assert worked["work_minutes"] == minutes and worked["charge"] is None
            # The customer's scheduler consents on the web (the desk may record it too).
            consented = await _ok(
                await scheduler.post(f"/api/v1/tickets/{opened['id']}/charge-consent", json={})
            )
            assert consented["charge_consent_at"] is not None
        nine, ten, eleven = [
            await _ok(await desk.get(f"/api/v1/tickets/{ids[m]}")) for m in (9, 10, 11)
        ]
        assert nine["charge"] is None and ten["charge"] is None
        assert eleven["charge"] == {
            "ticket_id": ids[11],
            "charged_at": "2026-10-20T15:00:00Z",
            "minutes": 11,
            "amount": "500",
        }
        # Consent twice and more work: still one charge per issue; the minutes follow the work.
        await _ok(await desk.post(f"/api/v1/tickets/{ids[11]}/charge-consent", json={}))
        again = await _ok(
            await desk.post(f"/api/v1/tickets/{ids[11]}/work", json={"minutes": 4, "note": "x"})
        )
        assert again["charge"]["minutes"] == 15 and again["charge"]["amount"] == "500"
    with time_machine.travel(BILLING_DAY, tick=False):
        finance = await client_as(Role.FINANCE)
        run = await _ok(
            await finance.post(
                "/api/v1/invoices/run", json={"month": "2026-10", "customer_id": acme.id}
            )
        )
        assert run["problems"] == [] and len(run["drafted"]) == 1
        invoice = await _ok(await finance.get(f"/api/v1/invoices/{run['drafted'][0]}"))
        assert invoice["extra_charges"] == [
            {
                "key": f"desk-ticket-{ids[11]}",
                "kind": "best_effort_support",
                "reference": f"Ticket #{ids[11]}",
                "description": "Best-effort support: Training question (11 min)",
                "date": "2026-10-20",
                "minutes": 15,
                "amount": "500.00",
            }
        ]
        # 2.00 of calls + 500.00 of support; the total re-adds from its lines.
        assert invoice["total"] == "502.00"
        lines = [Decimal(c["total_charges"]) for c in invoice["conferences"]]
        lines += [Decimal(e["amount"]) for e in invoice["extra_charges"]]
        assert sum(lines) == Decimal(invoice["total"])
        sheet = (await finance.get(f"/api/v1/invoices/{invoice['id']}.csv")).text
        rows = list(csv.DictReader(io.StringIO(sheet)))
        assert sum(Decimal(r["charges"]) for r in rows) == Decimal("502.00")
        assert [r["line"] for r in rows].count("extra") == 1
        page = (await finance.get(f"/api/v1/invoices/{invoice['id']}.html")).text
        assert f"Ticket #{ids[11]}" in page and "500.00" in page
        await _ok(await finance.post(f"/api/v1/invoices/{invoice['id']}/issue"))
        billed = await db.scalar(
            select(BilledExtra).where(BilledExtra.key == f"desk-ticket-{ids[11]}")
        )
        assert billed is not None and billed.amount_minor == 50000
        # Running the month again drafts nothing: the calls and the charge are billed.
        rerun = await _ok(
            await finance.post(
                "/api/v1/invoices/run", json={"month": "2026-10", "customer_id": acme.id}
            )
        )
        assert rerun["drafted"] == []


async def test_a_ticket_under_contract_takes_no_charge(db, make_customer, client_as):
    customer = await make_customer()
    operator = await client_as(Role.OPERATOR)
    await _ok(
        await operator.post(
            "/api/v1/support-contracts",
            json={
                "customer_id": customer.id,
                "systems": ["Boardroom codec"],
                "authorized": [{"name": "Dana Reyes"}],
                "starts_on": "2020-01-01",
            },
        ),
        201,
    )
    opened = await _ok(
        await operator.post(
            "/api/v1/tickets",
            json={
                "customer_id": customer.id,
                "severity": "SL2",
                "summary": "Echo",
                "description": "Echo",
                "channel": "phone",
                "caller_name": "Dana Reyes",
                "caller_system": "Boardroom codec",
            },
        ),
        201,
    )
    assert opened["best_effort"] is False
    worked = await _ok(
        await operator.post(f"/api/v1/tickets/{opened['id']}/work", json={"minutes": 30})
    )
    assert worked["work_minutes"] == 30 and worked["charge"] is None
    refused = await operator.post(f"/api/v1/tickets/{opened['id']}/charge-consent", json={})
    assert refused.status_code == 409, refused.text


def test_a_charge_with_no_rate_plan_in_force_is_left_off_and_named():
    """Finance is told of a charge it cannot price, rather than billing it in no currency."""
    charge = extras.ExtraCharge(
        key="desk-ticket-7",
        customer_id=1,
        occurred_at=WORKED,
        kind="best_effort_support",
        reference="Ticket #7",
        description="Best-effort support: Training question",
        minutes=11,
        amount=Decimal("500"),
    )
    problems: list[str] = []
    lines, currency, total = extras.invoice_lines(
        [charge], [], ZoneInfo("America/New_York"), problems, "Acme"
    )
    assert (lines, currency, total) == ([], None, 0)
    assert problems == ["Acme: Ticket #7 has no rate plan in force"]
