"""Billing pages over HTTP as a browser sends them: who sees what, and CSRF on every form."""

from datetime import UTC, datetime

import time_machine
from sqlalchemy import select

from billing.models import CreditMemo, Invoice
from bridgedesk.identity import Role
from tests.reservations.browsing import csrf_of


async def test_finance_drafts_issues_and_credits_through_the_pages(
    db,
    october,
    make_user,
    sign_in,
):
    finance = await sign_in(await make_user(Role.FINANCE))
    home = await finance.get("/billing?month=2026-10")
    assert home.status_code == 200
    # Without the form's CSRF token nothing happens.
    refused = await finance.post("/billing/run", data={"month": "2026-10"})
    assert refused.status_code == 403
    assert (await db.scalars(select(Invoice))).all() == []
    ran = await finance.post("/billing/run", data={"month": "2026-10", "csrf_token": csrf_of(home)})
    assert ran.status_code == 303
    invoice = (await db.scalars(select(Invoice))).one()
    page = await finance.get(f"/billing/invoices/{invoice.id}")
    assert "Explain this line" in page.text and "Issue and email" in page.text
    token = csrf_of(page)
    assert (await finance.post(f"/billing/invoices/{invoice.id}/issue")).status_code == 403
    issued = await finance.post(f"/billing/invoices/{invoice.id}/issue", data={"csrf_token": token})
    assert issued.status_code == 303
    page = await finance.get(f"/billing/invoices/{invoice.id}")
    await db.refresh(invoice)
    assert invoice.number and invoice.number in page.text
    assert "Issue and email" not in page.text and "Write credit memo" in page.text
    number = october["conferences"]["B"].number
    assert f'<option value="{number}">{number} (up to 1.15)</option>' in page.text
    memo = await finance.post(
        f"/billing/invoices/{invoice.id}/credit-memos",
        data={
            "csrf_token": token,
            "conference_number": number,
            "amount": "1.15",
            "reason": "Chicago could not hear",
        },
    )
    assert memo.status_code == 303
    written = (await db.scalars(select(CreditMemo))).one()
    assert written.amount_minor == 115
    credited = await finance.get(f"/billing/invoices/{invoice.id}")
    assert f'<option value="{number}">{number} (up to 0.00)</option>' in credited.text
    too_much = await finance.post(
        f"/billing/invoices/{invoice.id}/credit-memos",
        data={
            "csrf_token": token,
            "conference_number": number,
            "amount": "0.01",
            "reason": "again",
        },
    )
    assert too_much.status_code == 409


async def test_customers_billing_users_see_only_their_issued_invoices(
    db,
    october,
    make_user,
    sign_in,
    client_as,
):
    acme = october["customer"]
    api = await client_as(Role.FINANCE)
    draft_id = (await api.post("/api/v1/invoices/run", json={"month": "2026-10"})).json()[
        "drafted"
    ][0]
    billing = await sign_in(await make_user(Role.BILLING, customer_id=acme.id))
    assert (await billing.get(f"/billing/invoices/{draft_id}")).status_code == 404
    assert "No invoices" in (await billing.get("/billing")).text
    await api.post(f"/api/v1/invoices/{draft_id}/issue")
    home = await billing.get("/billing")
    assert f"/billing/invoices/{draft_id}" in home.text
    page = await billing.get(f"/billing/invoices/{draft_id}")
    assert page.status_code == 200
    assert "Write credit memo" not in page.text and "Issue and email" not in page.text
    scheduler = await sign_in(await make_user(Role.SCHEDULER, customer_id=acme.id))
    assert (await scheduler.get("/billing")).status_code == 403
    assert (await scheduler.get(f"/billing/invoices/{draft_id}")).status_code == 403


async def test_the_billing_home_opens_on_last_month_in_utc(make_user, sign_in):
    with time_machine.travel(datetime(2027, 1, 1, 0, 30, tzinfo=UTC), tick=False):
        finance = await sign_in(await make_user(Role.FINANCE))
        home = await finance.get("/billing")
    assert home.status_code == 200
    assert "<h1>Invoices for 2026-12</h1>" in home.text
