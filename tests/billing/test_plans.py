"""Rate plans refuse what they cannot price; billing users see their own issued documents only."""

from datetime import UTC, datetime

import pytest

from billing.models import RatePlan
from billing.service import invoices
from bridgedesk.identity import Role
from tests.snapshots import snapshot

GOOD = {
    "currency": "USD",
    "effective_from": "2026-01-01",
    "speed_tiers": [
        {"up_to_kbps": 768, "per_minute": "0.20"},
        {"up_to_kbps": None, "per_minute": "0.40"},
    ],
    "zones": {"EU": {"multiplier": "1.5"}},
    "features": [{"code": "REC", "name": "Recording", "per": "conference", "price": "5.00"}],
}


async def test_a_plan_round_trips_as_decimal_strings(db, make_customer, client_as):
    finance = await client_as(Role.FINANCE)
    customer = await make_customer()
    response = await finance.post("/api/v1/rate-plans", json={**GOOD, "customer_id": customer.id})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["speed_tiers"] == GOOD["speed_tiers"]
    assert body["zones"] == {"EU": {"multiplier": "1.5", "surcharge_per_minute": "0"}}
    listed = (await finance.get(f"/api/v1/rate-plans?customer_id={customer.id}")).json()
    assert [p["id"] for p in listed] == [body["id"]]


@pytest.mark.parametrize(
    "change, status",
    [
        ({"currency": "XYZ"}, 422),
        ({"currency": "usd1"}, 422),
        ({"speed_tiers": []}, 422),
        ({"speed_tiers": [{"up_to_kbps": 768, "per_minute": "0.20"}]}, 422),  # no open tier
        ({"speed_tiers": [{"up_to_kbps": None, "per_minute": 0.2}]}, 422),  # a float
        ({"speed_tiers": [{"up_to_kbps": None, "per_minute": "-1"}]}, 422),
        ({"speed_tiers": [{"up_to_kbps": None, "per_minute": "NaN"}]}, 422),
        ({"speed_tiers": [{"up_to_kbps": None, "per_minute": "0.0000001"}]}, 422),
        (
            {
                "speed_tiers": [
                    {"up_to_kbps": 5, "per_minute": "1"},
                    {"up_to_kbps": 5, "per_minute": "1"},
                    {"up_to_kbps": None, "per_minute": "1"},
                ]
            },
            422,
        ),
        ({"zones": {"EU": {"multiplier": "abc"}}}, 422),
        ({"features": [{"code": "X", "name": "X", "per": "hour", "price": "1"}]}, 422),
        ({"features": [{"code": "X", "name": "X", "per": "site", "price": "1"}] * 2}, 422),
        # PostgreSQL text and JSON cannot hold NUL: refused at the edge on every backend.
        ({"features": [{"code": "X", "name": "Re\x00c", "per": "site", "price": "1"}]}, 422),
        ({"effective_from": "2026-02-30"}, 422),
        ({"customer_id": 2**31}, 422),
        ({"customer_id": 999999}, 404),
    ],
)
async def test_bad_plans_are_refused_and_change_nothing(
    db, make_customer, client_as, change, status
):
    finance = await client_as(Role.FINANCE)
    body = {**GOOD, "customer_id": (await make_customer()).id, **change}
    # Bodies are built before the snapshot: it expires the factory objects they read.
    before = await snapshot(db)
    count = len((await finance.get("/api/v1/rate-plans")).json())
    response = await finance.post("/api/v1/rate-plans", json=body)
    assert response.status_code == status, response.text
    assert response.json()["detail"]
    assert await snapshot(db) == before
    assert len((await finance.get("/api/v1/rate-plans")).json()) == count


async def test_versions_need_distinct_dates_and_one_currency(db, make_customer, client_as):
    finance = await client_as(Role.FINANCE)
    customer = await make_customer()
    body = {**GOOD, "customer_id": customer.id}
    assert (await finance.post("/api/v1/rate-plans", json=body)).status_code == 201
    assert (await finance.post("/api/v1/rate-plans", json=body)).status_code == 409
    other = {**body, "effective_from": "2026-06-01", "currency": "EUR"}
    assert (await finance.post("/api/v1/rate-plans", json=other)).status_code == 409
    later = {**body, "effective_from": "2026-06-01"}
    assert (await finance.post("/api/v1/rate-plans", json=later)).status_code == 201


@pytest.mark.parametrize("month", ["2026-13", "26-10", "2026-1", "", "1999-12"])
async def test_a_bad_month_is_a_422(db, client_as, month):
    finance = await client_as(Role.FINANCE)
    response = await finance.post("/api/v1/invoices/run", json={"month": month})
    assert response.status_code == 422, response.text


async def test_billing_users_see_only_their_own_issued_invoices(
    db,
    october,
    client_as,
    make_customer,
):
    finance = await client_as(Role.FINANCE)
    acme = october["customer"]
    run = (await finance.post("/api/v1/invoices/run", json={"month": "2026-10"})).json()
    invoice_id = run["drafted"][0]
    own = await client_as(Role.BILLING, customer_id=acme.id)
    outsider = await client_as(Role.BILLING)
    scheduler = await client_as(Role.SCHEDULER, customer_id=acme.id)
    # A draft is invisible to the customer: 404, and absent from their list.
    assert (await own.get(f"/api/v1/invoices/{invoice_id}")).status_code == 404
    assert (await own.get(f"/api/v1/invoices/{invoice_id}.pdf")).status_code == 404
    assert (await own.get("/api/v1/invoices")).json()["items"] == []
    assert (await scheduler.get(f"/api/v1/invoices/{invoice_id}")).status_code == 403
    await finance.post(f"/api/v1/invoices/{invoice_id}/issue")
    assert (await own.get(f"/api/v1/invoices/{invoice_id}")).status_code == 200
    assert [i["id"] for i in (await own.get("/api/v1/invoices")).json()["items"]] == [invoice_id]
    assert (await outsider.get(f"/api/v1/invoices/{invoice_id}")).status_code == 404
    assert (await outsider.get("/api/v1/invoices")).json()["items"] == []
    # Customers read; they never issue, run or credit.
    assert (await own.post("/api/v1/invoices/run", json={"month": "2026-10"})).status_code == 403


async def test_a_failed_issue_gives_its_number_back(db, october, client_as, monkeypatch):
    """Gapless: the number is taken in the issue's transaction, so a failure returns it."""
    finance = await client_as(Role.FINANCE)
    other = october["customer"]
    run = (await finance.post("/api/v1/invoices/run", json={"month": "2026-10"})).json()
    invoice_id = run["drafted"][0]

    async def broken_queue(*_args):
        raise OSError("disk full")  # after the number was taken, in the same transaction

    monkeypatch.setattr(invoices.delivery, "queue", broken_queue)
    with pytest.raises(OSError):
        await finance.post(f"/api/v1/invoices/{invoice_id}/issue")
    monkeypatch.undo()
    assert (await finance.get(f"/api/v1/invoices/{invoice_id}")).json()["status"] == "draft"
    issued = (await finance.post(f"/api/v1/invoices/{invoice_id}/issue")).json()
    assert issued["number"] == f"INV-{datetime.now(UTC).year}-000001", other


async def test_a_rate_plan_row_stores_exact_strings(db, make_customer, make_plan):
    customer = await make_customer()
    plan = await make_plan(customer, tiers=((None, "0.012345"),))
    row = await db.get(RatePlan, plan.id)
    assert row.speed_tiers == [{"up_to_kbps": None, "per_minute": "0.012345"}]
