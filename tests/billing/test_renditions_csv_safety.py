"""The invoice CSV runs no formula in a spreadsheet: text cells that start like one are
neutralized (bridgedesk/csvfile.py), and the charges column still re-adds to the total."""

import csv
import io
from decimal import Decimal

from bridgedesk.identity import Role

FORMULAS = {
    "leader_name": "=1+1",
    "project_code": "@SUM(A1)",
    "site_name": "+cmd|' /C calc'!A0",
}


async def test_a_leader_named_like_a_formula_is_neutralized_and_the_csv_still_adds_up(
    db, october, client_as
):
    conference = october["conferences"]["A"]
    conference.leader_name = FORMULAS["leader_name"]
    conference.project_code = FORMULAS["project_code"]
    october["sites"]["ny"].name = FORMULAS["site_name"]
    await db.flush()
    finance = await client_as(Role.FINANCE)
    run = await finance.post(
        "/api/v1/invoices/run",
        json={"month": "2026-10", "customer_id": october["customer"].id},
    )
    assert run.status_code == 200, run.text
    invoice_id = run.json()["drafted"][0]
    invoice = (await finance.get(f"/api/v1/invoices/{invoice_id}")).json()
    response = await finance.get(f"/api/v1/invoices/{invoice_id}.csv")
    assert response.status_code == 200, response.text

    rows = list(csv.DictReader(io.StringIO(response.text)))
    number = conference.number
    mine = [row for row in rows if row["conference_number"] == number]
    assert mine
    for row in mine:
        assert row["leader_name"] == "'=1+1"
        assert row["project_code"] == "'@SUM(A1)"
    ny_rows = [row for row in mine if row["line"] == "site" and "calc" in row["site_name"]]
    assert [row["site_name"] for row in ny_rows] == ["'+cmd|' /C calc'!A0"]
    # No cell of the file starts like a formula, and every amount is a plain number.
    for row in rows:
        for column, cell in row.items():
            assert not cell.startswith(("=", "+", "@", "\t", "\r")), (column, cell)
            if cell.startswith("-"):
                assert column in ("charges", "minutes", "quantity"), (column, cell)
    assert sum(Decimal(row["charges"]) for row in rows) == Decimal(invoice["total"])
