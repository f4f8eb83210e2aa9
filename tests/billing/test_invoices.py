"""A month drafted, read, issued and re-run through the API, with every figure worked by hand.

Runs on SQLite and PostgreSQL: money is stored exactly on both.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from billing.models import BilledConference, Invoice
from bridgedesk.identity import Role
from tests.billing.conftest import A, B, D


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def _run(finance, month="2026-10", **extra):
    response = await finance.post("/api/v1/invoices/run", json={"month": month, **extra})
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_month_hand_computed(db, october, client_as):
    finance = await client_as(Role.FINANCE)
    acme = october["customer"]
    confs = october["conferences"]
    run = await _run(finance, customer_id=acme.id)
    assert run["problems"] == [] and len(run["drafted"]) == 1
    assert run == {
        "period": "2026-10",
        "drafted": run["drafted"],
        "removed": 0,
        "conferences": 5,  # A, B, C, D and F; "other" lies in September
        "problems": [],
    }
    invoice = (await finance.get(f"/api/v1/invoices/{run['drafted'][0]}")).json()
    assert invoice["status"] == "draft" and invoice["number"] is None
    draft_csv = await finance.get(f"/api/v1/invoices/{invoice['id']}.csv")
    assert draft_csv.headers["content-disposition"] == (
        f'inline; filename="draft-{invoice["id"]}-2026-10.csv"'
    )
    assert invoice["customer_id"] == acme.id and invoice["period"] == "2026-10"
    assert invoice["currency"] == "USD"
    assert invoice["bill_to"] == ["ap@acme.example", "cfo@acme.example"]
    lines = {c["conference_number"]: c for c in invoice["conferences"]}
    # Starting order; E (nothing connected) and the September one are absent.
    assert list(lines) == [confs[k].number for k in "ABCDF"]

    a = lines[confs["A"].number]
    assert a["start"] == "2026-10-05T10:00:00-04:00"
    assert (a["project_code"], a["leader_name"], a["requester_name"]) == (
        "PRJ-7",
        "Lee Leader",
        "Riley Requester",
    )
    assert [
        (s["site_name"], s["billing_zone"], s["speed_kbps"], s["minutes"], s["charges"])
        for s in a["sites"]
    ] == [
        ("New York", "US", 768, 16, "3.20"),
        ("London", "EU", 2048, 62, "49.60"),
    ]  # Chicago never connected: no line
    # REC 5.00; TRN on the 62-minute duration: 0.93; HD for the 2 sites that connected: 5.00.
    assert [(f["code"], f["charges"]) for f in a["features"]] == [
        ("REC", "5.00"),
        ("TRN", "0.93"),
        ("HD", "5.00"),
    ]
    assert (a["total_minutes"], a["total_charges"]) == (78, "63.73")

    b = lines[confs["B"].number]
    assert [(s["minutes"], s["charges"]) for s in b["sites"]] == [
        (1, "0.10"),
        (1, "0.35"),
        (2, "0.70"),
    ]
    assert (b["total_minutes"], b["total_charges"], b["project_code"]) == (4, "1.15", None)

    c = lines[confs["C"].number]
    assert [(s["minutes"], s["charges"]) for s in c["sites"]] == [(20, "7.50")]
    assert [leg["rate"] for leg in c["sites"][0]["legs"]] == ["0.35", "0.40"]
    # The old plan was in force when the first leg connected: REC at 5.00, not 6.00.
    assert (
        c["features"] == [{**c["features"][0], "code": "REC", "charges": "5.00"}]
        and c["total_charges"] == "12.50"
    )

    d = lines[confs["D"].number]
    assert [(f["code"], f["unrounded"], f["charges"]) for f in d["features"]] == [
        ("TRN", "0.105", "0.11")
    ]
    assert d["total_charges"] == "1.79"

    f = lines[confs["F"].number]
    assert f["start"] == "2026-10-31T23:00:00-04:00" and f["recorded"] is True
    assert f["total_charges"] == "0.41"

    # The total is the sum of the rounded conference totals, each the sum of rounded lines.
    assert invoice["total"] == "79.58"
    assert sum(Decimal(c["total_charges"]) for c in invoice["conferences"]) == Decimal("79.58")
    for conference in invoice["conferences"]:
        parts = [s["charges"] for s in conference["sites"]] + [
            x["charges"] for x in conference["features"]
        ]
        assert sum(map(Decimal, parts)) == Decimal(conference["total_charges"])


async def test_a_second_run_replaces_the_draft_and_never_duplicates(db, october, client_as):
    finance = await client_as(Role.FINANCE)
    acme = october["customer"]
    first = await _run(finance, customer_id=acme.id)
    second = await _run(finance)  # every customer this time
    assert second["drafted"] == first["drafted"]  # the same draft, replaced in place
    listed = (await finance.get(f"/api/v1/invoices?customer_id={acme.id}&month=2026-10")).json()
    assert listed["total"] == 1 and listed["items"][0]["total"] == "79.58"


async def test_issued_invoices_are_frozen_and_never_billed_again(
    db, october, client_as, add_leg, held_conference
):
    finance = await client_as(Role.FINANCE)
    acme = october["customer"]
    run = await _run(finance, customer_id=acme.id)
    invoice_id = run["drafted"][0]
    issued = await finance.post(f"/api/v1/invoices/{invoice_id}/issue")
    assert issued.status_code == 200, issued.text
    body = issued.json()
    assert body["status"] == "issued" and body["number"].startswith("INV-")
    frozen = (await finance.get(f"/api/v1/invoices/{invoice_id}")).json()

    again = await finance.post(f"/api/v1/invoices/{invoice_id}/issue")
    assert again.status_code == 409 and again.json()["detail"]

    # A late record for a billed conference, and a new conference of the month.
    a = october["conferences"]["A"]
    await add_leg(a, october["sites"]["chicago"], A, 600, 768)
    late = await held_conference(acme, [october["sites"]["chicago"]], D + timedelta(days=1))
    await add_leg(late, october["sites"]["chicago"], D + timedelta(days=1), 120, 768)
    rerun = await _run(finance, customer_id=acme.id)
    assert (await finance.get(f"/api/v1/invoices/{invoice_id}")).json() == frozen
    # Only the late conference is drafted; A stays billed once, on the issued invoice.
    (new_id,) = rerun["drafted"]
    assert new_id != invoice_id
    draft = (await finance.get(f"/api/v1/invoices/{new_id}")).json()
    assert [c["conference_number"] for c in draft["conferences"]] == [late.number]
    assert draft["total"] == "0.48"  # 2 min x 0.24 (new plan)
    billed = await db.scalar(
        select(func.count())
        .select_from(BilledConference)
        .where(BilledConference.conference_id == a.id)
    )
    assert billed == 1
    statuses = (
        await db.execute(
            select(Invoice.status, func.count())
            .where(Invoice.customer_id == acme.id)
            .group_by(Invoice.status)
        )
    ).all()
    assert sorted(statuses) == [("draft", 1), ("issued", 1)]


async def test_a_run_without_anything_to_bill_drafts_nothing(db, make_customer, client_as):
    finance = await client_as(Role.FINANCE)
    quiet = await make_customer()
    run = await _run(finance, customer_id=quiet.id)
    assert run == {
        "period": "2026-10",
        "drafted": [],
        "removed": 0,
        "conferences": 0,
        "problems": [],
    }


async def test_records_without_a_rate_plan_are_reported_not_guessed(
    db, make_customer, make_site, held_conference, add_leg, client_as
):
    finance = await client_as(Role.FINANCE)
    planless = await make_customer(name="Planless Ltd")
    site = await make_site(customer=planless)
    conference = await held_conference(planless, [site], B)
    await add_leg(conference, site, B, 60)
    run = await _run(finance, customer_id=planless.id)
    assert run["drafted"] == []
    assert run["problems"] == ["Planless Ltd has call records in 2026-10 but no rate plan"]


@pytest.mark.parametrize(
    "currency, zone, rate, seconds, per_site, total",
    [
        # JPY, no minor unit: 7 min x 12.5 = 87.5 -> 88 yen per site; two sites 176.
        ("JPY", "Asia/Tokyo", "12.5", 420, "88", "176"),
        # BHD, three minor digits: 7 min x 0.1235 = 0.8645 -> 0.865; two sites 1.730.
        ("BHD", "Asia/Bahrain", "0.1235", 420, "0.865", "1.730"),
    ],
)
async def test_currencies_with_0_and_3_minor_digits(
    db,
    make_customer,
    make_site,
    make_plan,
    held_conference,
    add_leg,
    client_as,
    currency,
    zone,
    rate,
    seconds,
    per_site,
    total,
):
    finance = await client_as(Role.FINANCE)
    customer = await make_customer(timezone=zone)
    one = await make_site(customer=customer, billing_zone="LOCAL")
    two = await make_site(customer=customer, billing_zone="LOCAL")
    await make_plan(customer, currency=currency, tiers=((None, rate),), zones={})
    conference = await held_conference(customer, [one, two], B)
    await add_leg(conference, one, B, seconds)
    await add_leg(conference, two, B, seconds)
    run = await _run(finance, customer_id=customer.id)
    invoice = (await finance.get(f"/api/v1/invoices/{run['drafted'][0]}")).json()
    assert invoice["currency"] == currency
    assert [s["charges"] for s in invoice["conferences"][0]["sites"]] == [per_site, per_site]
    assert invoice["total"] == total
    row = await db.get(Invoice, invoice["id"])
    assert row.total_minor == int(Decimal(total).scaleb(len(total.partition(".")[2])))


async def test_the_database_refuses_to_change_an_issued_invoice(db, october, client_as):
    from sqlalchemy import delete, update
    from sqlalchemy.exc import DBAPIError

    finance = await client_as(Role.FINANCE)
    run = await _run(finance, customer_id=october["customer"].id)
    invoice_id = run["drafted"][0]
    await finance.post(f"/api/v1/invoices/{invoice_id}/issue")
    for statement in (
        update(Invoice).where(Invoice.id == invoice_id).values(total_minor=1),
        delete(Invoice).where(Invoice.id == invoice_id),
    ):
        with pytest.raises(DBAPIError, match="immutable"):
            async with db.begin_nested():
                await db.execute(statement)
    assert (await finance.get(f"/api/v1/invoices/{invoice_id}")).json()["total"] == "79.58"
