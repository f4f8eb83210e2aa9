"""What a site may be given as its address (SPEC §5 "What may be dialed"), on every path that
writes one: `POST /api/v1/sites`, `PATCH /api/v1/sites/{id}` (API and the site's page) and the
CSV import. Each refusal is a 422 naming the field, and changes nothing."""

import csv
import io

import pytest
from sqlalchemy import func, select

from bridgedesk.identity import Role
from reservations.models import Site
from tests.reservations.browsing import csrf_of

GATEWAY = "sip:{number}@gw.provider.example"
BRIDGE = "sip:bridge@10.20.0.1"

# (field, value, what the refusal says); every one is refused with or without a gateway,
# except tel: numbers, refused only while no gateway is configured.
DENIED = [
    ("sip_uri", "sip:meta@169.254.169.254", "does not call"),
    ("sip_uri", "sip:room@[fe80::1]:5060", "does not call"),
    ("sip_uri", "sip:anything@10.20.0.1", "own bridges"),  # the registered bridge itself
    ("audio_uri", "sip:audio@169.254.0.1:5062", "does not call"),
]
TEL = [("sip_uri", "tel:+15550100", "PSTN_GATEWAY"), ("audio_uri", "tel:+1-555-0100", "GATEWAY")]


def site_body(customer_id: int, **overrides: str) -> dict[str, object]:
    return {
        "customer_id": customer_id,
        "name": "Boardroom",
        "kind": "room",
        "timezone": "UTC",
        "sip_uri": "sip:boardroom@10.0.0.7",
        "max_speed_kbps": 1536,
        "billing_zone": "EU",
        "contacts": [{"name": "Tess Tech", "email": "tess@customer.example"}],
        **overrides,
    }


def csv_of(**overrides: str) -> bytes:
    row = {
        "name": "Branch 1",
        "kind": "room",
        "timezone": "UTC",
        "sip_uri": "sip:branch1@10.0.0.1",
        "audio_uri": "",
        "max_speed_kbps": "768",
        "billing_zone": "US",
        "contact_name": "Tech",
        **overrides,
    }
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(row))
    writer.writeheader()
    writer.writerow(row)
    return out.getvalue().encode()


async def site_rows(db) -> list[tuple[str, str, str | None]]:
    db.expire_all()
    rows = await db.execute(select(Site.name, Site.sip_uri, Site.audio_uri).order_by(Site.id))
    return [tuple(row) for row in rows]


@pytest.fixture
async def registered(db, make_customer, make_bridge):
    await make_bridge(sip_uri=BRIDGE)
    return await make_customer()


@pytest.mark.parametrize("field, value, reason", DENIED + TEL)
async def test_create_refuses_what_may_not_be_dialed(
    db, registered, client_as, field, value, reason
):
    scheduler = await client_as(Role.SCHEDULER, customer_id=registered.id)
    refused = await scheduler.post("/api/v1/sites", json=site_body(registered.id, **{field: value}))
    assert refused.status_code == 422, refused.text
    assert reason in refused.json()["detail"] and refused.json()["field"] == field
    assert await site_rows(db) == []


@pytest.mark.parametrize("field, value, reason", DENIED + TEL)
async def test_patch_refuses_what_may_not_be_dialed(
    db, registered, client_as, field, value, reason
):
    scheduler = await client_as(Role.SCHEDULER, customer_id=registered.id)
    created = await scheduler.post("/api/v1/sites", json=site_body(registered.id))
    assert created.status_code == 201, created.text
    before = await site_rows(db)
    site_id = created.json()["id"]
    refused = await scheduler.patch(f"/api/v1/sites/{site_id}", json={field: value})
    assert refused.status_code == 422, refused.text
    assert reason in refused.json()["detail"]
    assert await site_rows(db) == before


@pytest.mark.parametrize("field, value, reason", DENIED + TEL)
async def test_import_refuses_the_file_naming_row_and_column(
    db, registered, client_as, field, value, reason
):
    tech = await client_as(Role.TECHNICIAN)
    refused = await tech.post(
        f"/api/v1/sites/import?customer_id={registered.id}",
        content=csv_of(**{field: value}),
        headers={"Content-Type": "text/csv"},
    )
    assert refused.status_code == 422, refused.text
    [error] = refused.json()["errors"]
    assert (error["row"], error["column"]) == (2, field) and reason in error["message"]
    assert await db.scalar(select(func.count(Site.id))) == 0


async def test_the_site_page_refuses_a_denied_address_and_keeps_the_old_one(
    db, registered, client_as, sign_in, make_user
):
    api = await client_as(Role.TECHNICIAN)
    site_id = (await api.post("/api/v1/sites", json=site_body(registered.id))).json()["id"]
    tech = await sign_in(await make_user(Role.TECHNICIAN))
    page = await tech.get(f"/certification/sites/{site_id}")
    refused = await tech.post(
        f"/certification/sites/{site_id}/details",
        data={
            "csrf_token": csrf_of(page),
            "name": "Boardroom",
            "sip_uri": "sip:meta@169.254.169.254",
        },
    )
    assert refused.status_code == 422
    assert "does not call" in refused.text
    assert await site_rows(db) == [("Boardroom", "sip:boardroom@10.0.0.7", None)]


async def test_with_a_gateway_tel_numbers_are_taken_on_every_path(
    db, registered, client_as, set_settings
):
    customer_id = registered.id
    set_settings(pstn_gateway=GATEWAY)
    tech = await client_as(Role.TECHNICIAN)
    created = await tech.post("/api/v1/sites", json=site_body(customer_id, sip_uri="tel:+15550100"))
    assert created.status_code == 201, created.text
    patched = await tech.patch(
        f"/api/v1/sites/{created.json()['id']}", json={"audio_uri": "tel:+1-555-0101"}
    )
    assert patched.status_code == 200, patched.text
    imported = await tech.post(
        f"/api/v1/sites/import?customer_id={customer_id}",
        content=csv_of(sip_uri="tel:+15550102"),
        headers={"Content-Type": "text/csv"},
    )
    assert imported.status_code == 201, imported.text
    assert await site_rows(db) == [
        ("Boardroom", "tel:+15550100", "tel:+1-555-0101"),
        ("Branch 1", "tel:+15550102", None),
    ]
    # The gateway does not open the deny list.
    denied = await tech.post(
        "/api/v1/sites", json=site_body(customer_id, name="Annex", sip_uri="sip:x@169.254.1.1")
    )
    assert denied.status_code == 422


@pytest.mark.parametrize(
    "uri", ["tel:+15550100", "sip:bridge@10.0.0.1:0", "sip:bridge@host\r\nVia: x", "bridge@h"]
)
async def test_a_bridge_is_registered_only_with_a_sip_uri(db, client_as, uri):
    operator = await client_as(Role.OPERATOR)
    refused = await operator.post(
        "/api/v1/bridges", json={"name": "MCU", "sip_uri": uri, "ports": 10}
    )
    assert refused.status_code == 422, refused.text
    listed = await operator.get("/api/v1/bridges")
    assert "MCU" not in [b["name"] for b in listed.json()]
