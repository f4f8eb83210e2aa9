"""The certification workflow through the API: entering it, tests, sign-off, upgrades, history."""

from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import select

from bridgedesk.identity import Role
from certification.models import CertificationHistory
from reservations.models import Site
from tests.certification.probes import busy, finish_probe
from tests.reservations.browsing import csrf_of


def site_body(customer_id: int, **overrides):
    return {
        "customer_id": customer_id,
        "name": "Boardroom",
        "kind": "room",
        "timezone": "Europe/Berlin",
        "sip_uri": "sip:boardroom@127.0.0.1",
        "max_speed_kbps": 1536,
        "billing_zone": "EU",
        "contacts": [{"name": "Tess Tech", "email": "tess@customer.example"}],
        **overrides,
    }


async def test_a_registered_room_gets_its_deadlines_from_its_registration(
    db, make_customer, client_as
):
    customer = await make_customer()
    tech = await client_as(Role.TECHNICIAN)
    with time_machine.travel(datetime(2027, 3, 1, 10, 0, tzinfo=UTC), tick=False):
        created = await tech.post("/api/v1/sites", json=site_body(customer.id))
        assert created.status_code == 201, created.text
        site_id = created.json()["id"]
        got = await tech.get(f"/api/v1/sites/{site_id}/certification")
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["state"] == "registered"
    assert body["info_received_at"] == "2027-03-01T10:00:00Z"
    assert body["register_by"] == "2027-03-02T10:00:00Z"
    assert body["certify_by"] == "2027-03-03T10:00:00Z"
    assert body["tests"] == [] and body["signed_off_by"] is None and body["certified_at"] is None


async def test_information_completed_later_starts_the_deadline_once(db, make_customer, client_as):
    customer = await make_customer()
    tech = await client_as(Role.TECHNICIAN)
    with time_machine.travel(datetime(2027, 3, 1, 10, 0, tzinfo=UTC), tick=False):
        created = await tech.post(
            "/api/v1/sites", json=site_body(customer.id, kind="external", contacts=[])
        )
        site_id = created.json()["id"]
        first = (await tech.get(f"/api/v1/sites/{site_id}/certification")).json()
    assert first["info_received_at"] is None and first["certify_by"] is None
    with time_machine.travel(datetime(2027, 3, 1, 15, 0, tzinfo=UTC), tick=False):
        patched = await tech.patch(
            f"/api/v1/sites/{site_id}",
            json={
                "contacts": [{"name": "Ola", "phone": "+47 555"}],
                "audio_uri": "sip:+4755@10.0.0.8",
            },
        )
        assert patched.status_code == 200, patched.text
    with time_machine.travel(datetime(2027, 3, 2, 9, 0, tzinfo=UTC), tick=False):
        again = await tech.patch(
            f"/api/v1/sites/{site_id}", json={"contacts": [{"name": "Kari", "phone": "+47 556"}]}
        )
        assert again.status_code == 200
        body = (await tech.get(f"/api/v1/sites/{site_id}/certification")).json()
    assert body["info_received_at"] == "2027-03-01T15:00:00Z"
    assert body["certify_by"] == "2027-03-02T15:00:00Z"
    history = (await tech.get(f"/api/v1/sites/{site_id}/history")).json()["items"]
    fields = [(h["field"], h["before"], h["after"]) for h in history]
    assert ("audio_uri", None, "sip:+4755@10.0.0.8") in fields
    assert ("contacts", "Ola (phone +47 555)", "Kari (phone +47 556)") in fields
    assert [f for f, _, _ in fields].count("info_received_at") == 1
    assert all(h["actor"].startswith("Technician Person") for h in history[1:])


async def test_a_passing_test_and_sign_off_certify_the_site(db, make_customer, client_as):
    customer = await make_customer()
    tech = await client_as(Role.TECHNICIAN)
    site_id = (await tech.post("/api/v1/sites", json=site_body(customer.id))).json()["id"]
    started = await tech.post(f"/api/v1/sites/{site_id}/certification/tests")
    assert started.status_code == 202, started.text
    assert started.json()["status"] == "pending"
    waiting = (await tech.get(f"/api/v1/sites/{site_id}/certification")).json()
    assert waiting["state"] == "testing" and waiting["tests"][0]["outcome"] == "pending"
    early = await tech.post(f"/api/v1/sites/{site_id}/certification/sign-off")
    assert early.status_code == 409, early.text

    await finish_probe(db, started.json()["probe_id"])
    done = (await tech.get(f"/api/v1/sites/{site_id}/certification")).json()
    test = done["tests"][0]
    assert (test["outcome"], test["final_status"], test["codec"]) == ("passed", 200, "PCMU/8000")
    assert test["setup_ms"] == 40.0 and test["media_seconds"] == 3.0 and test["cause"] == "ok"
    signed = await tech.post(f"/api/v1/sites/{site_id}/certification/sign-off")
    assert signed.status_code == 200, signed.text
    assert signed.json()["state"] == "certified"
    assert signed.json()["signed_off_by"].startswith("Technician Person")
    site = await db.get(Site, site_id)
    await db.refresh(site)
    assert site.certification_state == "certified"
    again = await tech.post(f"/api/v1/sites/{site_id}/certification/sign-off")
    assert again.status_code == 409


async def test_a_failing_test_fails_the_site_and_sign_off_is_refused(db, make_customer, client_as):
    customer = await make_customer()
    tech = await client_as(Role.TECHNICIAN)
    site_id = (await tech.post("/api/v1/sites", json=site_body(customer.id))).json()["id"]
    first = (await tech.post(f"/api/v1/sites/{site_id}/certification/tests")).json()
    await finish_probe(db, first["probe_id"])
    second = (await tech.post(f"/api/v1/sites/{site_id}/certification/tests")).json()
    await busy(db, second["probe_id"])
    body = (await tech.get(f"/api/v1/sites/{site_id}/certification")).json()
    assert body["state"] == "failed"
    latest = body["tests"][0]
    assert (latest["outcome"], latest["final_status"], latest["cause"]) == (
        "failed",
        486,
        "client_not_synchronized",
    )
    refused = await tech.post(f"/api/v1/sites/{site_id}/certification/sign-off")
    assert refused.status_code == 409
    assert "failed" in refused.json()["detail"]
    assert (await tech.get(f"/api/v1/sites/{site_id}/certification")).json()["state"] == "failed"


async def test_an_upgrade_late_in_the_day_in_kiritimati_is_due_at_local_midnight(
    db, make_customer, client_as
):
    customer = await make_customer(timezone="Pacific/Kiritimati")
    tech = await client_as(Role.TECHNICIAN)
    site_id = (
        await tech.post("/api/v1/sites", json=site_body(customer.id, timezone="Pacific/Kiritimati"))
    ).json()["id"]
    probe = (await tech.post(f"/api/v1/sites/{site_id}/certification/tests")).json()["probe_id"]
    await finish_probe(db, probe)
    assert (await tech.post(f"/api/v1/sites/{site_id}/certification/sign-off")).status_code == 200
    scheduler = await client_as(Role.SCHEDULER, customer_id=customer.id)
    # 23:10 on 1 March in Kiritimati (UTC+14) is 09:10 UTC.
    with time_machine.travel(datetime(2027, 3, 1, 9, 10, tzinfo=UTC), tick=False):
        asked = await scheduler.post(f"/api/v1/sites/{site_id}/upgrade", json={"note": "new codec"})
    assert asked.status_code == 200, asked.text
    body = asked.json()
    assert body["state"] == "upgrade_pending"
    assert body["deadline_kind"] == "upgrade"
    assert body["certify_by"] == "2027-03-01T10:00:00Z"  # midnight in Kiritimati
    # The test that certified it before the upgrade does not certify the upgrade.
    refused = await tech.post(f"/api/v1/sites/{site_id}/certification/sign-off")
    assert refused.status_code == 409


@pytest.mark.parametrize(
    "zone, asked, due",
    [
        # 23:10 on 1 March in Kiritimati (UTC+14) is 09:10 UTC: due 10:00 UTC the same date.
        ("Pacific/Kiritimati", "2027-03-01T09:10:00+00:00", "2027-03-01T10:00:00Z"),
        # 22:00 on 1 March in Pago Pago (UTC-11) is 09:00 UTC on 2 March: due 11:00 UTC.
        ("Pacific/Pago_Pago", "2027-03-02T09:00:00+00:00", "2027-03-02T11:00:00Z"),
    ],
)
async def test_an_upgrade_late_in_the_local_day_is_due_at_that_zone_s_midnight(
    db, make_customer, client_as, zone, asked, due
):
    customer = await make_customer(timezone=zone)
    tech = await client_as(Role.TECHNICIAN)
    site_id = (await tech.post("/api/v1/sites", json=site_body(customer.id, timezone=zone))).json()[
        "id"
    ]
    probe = (await tech.post(f"/api/v1/sites/{site_id}/certification/tests")).json()["probe_id"]
    await finish_probe(db, probe)
    assert (await tech.post(f"/api/v1/sites/{site_id}/certification/sign-off")).status_code == 200
    with time_machine.travel(datetime.fromisoformat(asked), tick=False):
        requested = await tech.post(f"/api/v1/sites/{site_id}/upgrade")
        queue = (await tech.get("/api/v1/certification/queue")).json()["items"]
    assert requested.json()["certify_by"] == due
    assert [i["deadline"] for i in queue if i["site_id"] == site_id] == [due]


async def test_schedulers_see_their_sites_history_but_cannot_certify(db, make_customer, client_as):
    customer = await make_customer()
    scheduler = await client_as(Role.SCHEDULER, customer_id=customer.id)
    site_id = (await scheduler.post("/api/v1/sites", json=site_body(customer.id))).json()["id"]
    assert (await scheduler.get(f"/api/v1/sites/{site_id}/history")).status_code == 200
    assert (await scheduler.post(f"/api/v1/sites/{site_id}/certification/tests")).status_code == 403
    assert (
        await scheduler.post(f"/api/v1/sites/{site_id}/certification/sign-off")
    ).status_code == 403
    rows = (
        await db.scalars(
            select(CertificationHistory).where(CertificationHistory.site_id == site_id)
        )
    ).all()
    assert [r.field for r in rows] == ["site", "info_received_at", "deadline"]


async def _certified_site(db, tech, customer_id: int) -> int:
    site_id = (await tech.post("/api/v1/sites", json=site_body(customer_id))).json()["id"]
    probe = (await tech.post(f"/api/v1/sites/{site_id}/certification/tests")).json()["probe_id"]
    await finish_probe(db, probe)
    assert (await tech.post(f"/api/v1/sites/{site_id}/certification/sign-off")).status_code == 200
    return site_id


async def test_a_customers_new_sip_uri_sends_a_certified_site_back_to_certification(
    db, make_customer, client_as
):
    customer = await make_customer(timezone="Europe/Oslo")
    tech = await client_as(Role.TECHNICIAN)
    site_id = await _certified_site(db, tech, customer.id)
    scheduler = await client_as(Role.SCHEDULER, customer_id=customer.id)
    # Contacts change nothing for the certification; a new address does.
    contacts = [{"name": "Ola", "phone": "+47 555 0101"}, {"name": "Kari", "email": "k@x.no"}]
    kept = await scheduler.patch(f"/api/v1/sites/{site_id}", json={"contacts": contacts})
    assert kept.json()["certification_state"] == "certified"
    assert [c["name"] for c in kept.json()["contacts"]] == ["Ola", "Kari"]  # in order
    with time_machine.travel(datetime(2027, 3, 1, 21, 30, tzinfo=UTC), tick=False):
        moved = await scheduler.patch(
            f"/api/v1/sites/{site_id}", json={"sip_uri": "sip:new-codec@10.0.0.9"}
        )
        assert moved.status_code == 200, moved.text
        assert moved.json()["certification_state"] == "recertification_required"
        body = (await tech.get(f"/api/v1/sites/{site_id}/certification")).json()
        again = await scheduler.get(f"/api/v1/sites/{site_id}")
    assert body["state"] == "recertification_required"
    assert body["deadline"] == "2027-03-02T21:30:00Z"  # re-certified within 24 h
    assert again.json()["certification_state"] == "recertification_required"
    history = (await tech.get(f"/api/v1/sites/{site_id}/history")).json()["items"]
    assert ("sip_uri", "sip:boardroom@127.0.0.1", "sip:new-codec@10.0.0.9") in [
        (h["field"], h["before"], h["after"]) for h in history
    ]


async def test_provider_staff_moving_a_certified_site_test_it_the_same_day(
    db, make_customer, client_as
):
    customer = await make_customer(timezone="Europe/Oslo")
    tech = await client_as(Role.TECHNICIAN)
    site_id = await _certified_site(db, tech, customer.id)
    with time_machine.travel(datetime(2027, 3, 1, 21, 30, tzinfo=UTC), tick=False):
        moved = await tech.patch(
            f"/api/v1/sites/{site_id}", json={"sip_uri": "sip:new-codec@10.0.0.9"}
        )
        assert moved.json()["certification_state"] == "upgrade_pending"
        body = (await tech.get(f"/api/v1/sites/{site_id}/certification")).json()
    assert body["certify_by"] == "2027-03-01T23:00:00Z"  # midnight in Oslo (UTC+1)


async def test_bad_site_changes_are_refused_and_change_nothing(db, make_customer, client_as):
    customer = await make_customer()
    tech = await client_as(Role.TECHNICIAN)
    site_id = (await tech.post("/api/v1/sites", json=site_body(customer.id))).json()["id"]
    await tech.post("/api/v1/sites", json=site_body(customer.id, name="Annex"))
    before = (await tech.get(f"/api/v1/sites/{site_id}/history")).json()["items"]
    for body, status in [
        ({"timezone": "Mars/Olympus"}, 422),
        ({"sip_uri": "http://x"}, 422),
        ({"name": None}, 422),
        ({"kind": "external"}, 422),
        ({"contacts": [{"phone": "1"}]}, 422),
        ({"name": "Annex"}, 409),
        ({"name": "x\x00y"}, 422),
    ]:
        response = await tech.patch(f"/api/v1/sites/{site_id}", json=body)
        assert response.status_code == status, (body, response.text)
        assert response.json()["detail"]
    assert (await tech.patch("/api/v1/sites/999999", json={"name": "Z"})).status_code == 404
    assert (await tech.get(f"/api/v1/sites/{site_id}/history")).json()["items"] == before


async def test_a_site_the_bridge_cannot_call_is_a_clear_422_and_changes_nothing(
    db, make_customer, client_as, set_settings
):
    customer = await make_customer()
    tech = await client_as(Role.TECHNICIAN)
    set_settings(pstn_gateway="sip:{number}@gw.provider.example")
    site_id = (
        await tech.post("/api/v1/sites", json=site_body(customer.id, sip_uri="tel:+15550100"))
    ).json()["id"]
    set_settings(pstn_gateway=None)  # the provider drops its gateway: tel: cannot be called
    before = (await tech.get(f"/api/v1/sites/{site_id}/certification")).json()
    refused = await tech.post(f"/api/v1/sites/{site_id}/certification/tests")
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"]
    assert (await tech.get(f"/api/v1/sites/{site_id}/certification")).json() == before
    missing = await tech.post("/api/v1/sites/99999999999/certification/tests")
    assert missing.status_code == 404


async def test_a_site_id_past_the_databases_range_is_no_site_on_every_route(
    db, make_user, client_as, sign_in
):
    far = 2**31  # one past INTEGER: looking it up would overflow the driver
    tech = await client_as(Role.TECHNICIAN)
    for method, path, body in [
        ("GET", f"/api/v1/sites/{far}/certification", None),
        ("GET", f"/api/v1/sites/{far}/history", None),
        ("PATCH", f"/api/v1/sites/{far}", {"name": "Z"}),
        ("POST", f"/api/v1/sites/{far}/certification/tests", None),
        ("POST", f"/api/v1/sites/{far}/certification/sign-off", None),
        ("POST", f"/api/v1/sites/{far}/upgrade", None),
    ]:
        response = await tech.request(method, path, json=body)
        assert response.status_code == 404, (method, path, response.text)
    browser = await sign_in(await make_user(Role.TECHNICIAN))
    token = csrf_of(await browser.get("/certification"))
    assert (await browser.get(f"/certification/sites/{far}")).status_code == 404
    for action, data in [
        ("tests", {}),
        ("sign-off", {}),
        ("upgrade", {}),
        ("details", {"name": "Z", "contacts": "Tess"}),
    ]:
        response = await browser.post(
            f"/certification/sites/{far}/{action}", data={"csrf_token": token, **data}
        )
        assert response.status_code == 404, (action, response.text)
