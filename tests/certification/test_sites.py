"""Bulk registration of a rollout from CSV: all or nothing, every bad row named."""

import csv
import io
from datetime import UTC, datetime, timedelta

import time_machine
from sqlalchemy import func, select

from bridgedesk.identity import Role
from certification.models import CertificationHistory, CertificationRecord
from reservations.models import Site

HEADER = [
    "name",
    "kind",
    "timezone",
    "sip_uri",
    "audio_uri",
    "max_speed_kbps",
    "billing_zone",
    "contact_name",
    "contact_email",
    "contact_phone",
]


def rollout_rows(count: int) -> list[dict[str, str]]:
    return [
        {
            "name": f"Branch {n:03d}",
            "kind": "room" if n % 2 else "external",
            "timezone": "America/Chicago",
            "sip_uri": f"sip:branch{n}@10.0.0.1",
            "audio_uri": f"sip:+1555000{n:04d}@10.0.0.8",
            "max_speed_kbps": "768",
            "billing_zone": "US-CENTRAL",
            "contact_name": f"Tech {n}",
            "contact_email": f"tech{n}@customer.example",
            "contact_phone": "+1 555 0100",
        }
        for n in range(1, count + 1)
    ]


def to_csv(rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=HEADER)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


async def site_count(db, customer_id: int) -> int:
    return await db.scalar(select(func.count(Site.id)).where(Site.customer_id == customer_id))


async def test_100_sites_with_3_bad_rows_import_nothing_then_all_once_fixed(
    db, make_customer, client_as
):
    customer = await make_customer()
    tech = await client_as(Role.TECHNICIAN)
    rows = rollout_rows(100)
    rows[9]["timezone"] = "Mars/Olympus_Mons"  # file row 11 (header is row 1)
    rows[41]["sip_uri"] = "http://branch42.example"  # row 43
    rows[76]["name"] = rows[75]["name"]  # row 78 repeats row 77's name
    url = f"/api/v1/sites/import?customer_id={customer.id}"

    refused = await tech.post(url, files={"file": ("rollout.csv", to_csv(rows), "text/csv")})
    assert refused.status_code == 422, refused.text
    errors = refused.json()["errors"]
    assert sorted({e["row"] for e in errors}) == [11, 43, 78]
    assert {(e["row"], e["column"]) for e in errors} == {
        (11, "timezone"),
        (43, "sip_uri"),
        (78, "name"),
    }
    assert "3 row(s)" in refused.json()["detail"]
    assert await site_count(db, customer.id) == 0
    assert await db.scalar(select(func.count()).select_from(CertificationHistory)) == 0

    fixed = rollout_rows(100)
    done = await tech.post(url, content=to_csv(fixed), headers={"Content-Type": "text/csv"})
    assert done.status_code == 201, done.text
    assert done.json()["imported"] == 100
    assert await site_count(db, customer.id) == 100
    again = await tech.post(url, content=to_csv(fixed[:1]), headers={"Content-Type": "text/csv"})
    assert again.status_code == 422
    assert again.json()["errors"][0]["row"] == 2
    assert "already has a site" in again.json()["errors"][0]["message"]


async def test_rollout_of_80_sites_pushes_the_76th_to_80th_by_48_hours(
    db, make_customer, client_as
):
    customer = await make_customer()
    tech = await client_as(Role.TECHNICIAN)
    url = f"/api/v1/sites/import?customer_id={customer.id}"
    rows = rollout_rows(80)
    for row in rows:
        row["kind"] = "external"
    received = datetime(2027, 5, 3, 8, 0, tzinfo=UTC)
    with time_machine.travel(received, tick=False):
        done = await tech.post(url, content=to_csv(rows), headers={"Content-Type": "text/csv"})
        assert done.status_code == 201, done.text
        queue = (await tech.get("/api/v1/certification/queue")).json()
    ids = done.json()["site_ids"]
    records = {
        r.site_id: r
        for r in await db.scalars(
            select(CertificationRecord).where(CertificationRecord.site_id.in_(ids))
        )
    }
    deadlines = [records[i].certify_by - received for i in ids]
    assert deadlines[:75] == [timedelta(hours=24)] * 75
    assert deadlines[75:] == [timedelta(hours=72)] * 5
    assert [records[i].rollout_position for i in ids] == list(range(1, 81))
    # The queue shows the same deadlines, the stretched ones last.
    mine = [item for item in queue["items"] if item["customer_id"] == customer.id]
    assert [item["site_id"] for item in mine[-5:]] == ids[75:]
    assert {item["deadline"] for item in mine[-5:]} == {"2027-05-06T08:00:00Z"}
    per_site = (await tech.get(f"/api/v1/sites/{ids[79]}/certification")).json()
    assert per_site["certify_by"] == "2027-05-06T08:00:00Z"

    # After the rollout, a new site is back on 24 h once the earlier ones are certified.
    for record in records.values():
        record.first_certified_at = received
        record.state = "certified"
    await db.flush()
    later = [{**rollout_rows(81)[80], "kind": "external"}]
    with time_machine.travel(received + timedelta(days=5), tick=False):
        added = await tech.post(url, content=to_csv(later), headers={"Content-Type": "text/csv"})
    assert added.status_code == 201, added.text
    new = await db.get(CertificationRecord, added.json()["site_ids"][0])
    assert new.rollout_position == 1
    assert new.certify_by == received + timedelta(days=5, hours=24)


async def test_a_file_with_wrong_columns_or_no_rows_is_refused_whole(db, make_customer, client_as):
    customer = await make_customer()
    tech = await client_as(Role.OPERATOR)
    url = f"/api/v1/sites/import?customer_id={customer.id}"
    for content in (b"name,colour\nA,blue\n", b"", to_csv([]), b"\xff\xfe\x00bad"):
        response = await tech.post(url, content=content, headers={"Content-Type": "text/csv"})
        assert response.status_code == 422, (content, response.text)
        assert response.json()["detail"]
    assert await site_count(db, customer.id) == 0


async def test_schedulers_and_other_customers_cannot_import(db, make_customer, client_as):
    customer = await make_customer()
    url = f"/api/v1/sites/import?customer_id={customer.id}"
    scheduler = await client_as(Role.SCHEDULER, customer_id=customer.id)
    body = to_csv(rollout_rows(2))
    response = await scheduler.post(url, content=body, headers={"Content-Type": "text/csv"})
    assert response.status_code == 403
    assert await site_count(db, customer.id) == 0


CONTROLS = ["\x01", "\x08", "\x0b", "\x0c", "\r", "\x1b", "\x7f", "\n"]


async def test_a_control_character_in_any_cell_refuses_the_file_and_names_the_cell(
    db, make_customer, client_as
):
    """The edge's one text rule in the CSV import: each column, each character (NUL has its
    own refusal of the whole file); the page form imports through the same parser."""
    customer = await make_customer()
    tech = await client_as(Role.TECHNICIAN)
    url = f"/api/v1/sites/import?customer_id={customer.id}"
    for column in HEADER:
        for character in CONTROLS:
            rows = rollout_rows(2)
            value = rows[1][column]
            rows[1][column] = value[:2] + character + value[2:]
            refused = await tech.post(
                url, content=to_csv(rows), headers={"Content-Type": "text/csv"}
            )
            where = (column, repr(character))
            assert refused.status_code == 422, (where, refused.text)
            # Named by its column (a quoted line break moves the file's line number on).
            columns = {e["column"] for e in refused.json()["errors"]}
            assert columns == {column}, (where, refused.json())
    assert await site_count(db, customer.id) == 0
    # The control: the same file without them is imported.
    done = await tech.post(
        url, content=to_csv(rollout_rows(2)), headers={"Content-Type": "text/csv"}
    )
    assert done.status_code == 201, done.text
