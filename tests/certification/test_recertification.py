"""A network drop the bridge recorded puts a certified site up for recertification (+24 h), and
every later booking of it carries a warning; each fault is acted on once."""

from datetime import timedelta

from sqlalchemy import select

from bridge.models import Incident, Leg
from bridgedesk.clock import utcnow
from bridgedesk.identity import Role
from certification.models import CertificationHistory
from certification.service import recertification
from tests.certification.probes import finish_probe
from tests.certification.test_api import site_body


async def certified_site(tech, db, customer_id: int, name: str = "Boardroom") -> int:
    site_id = (await tech.post("/api/v1/sites", json=site_body(customer_id, name=name))).json()[
        "id"
    ]
    probe = (await tech.post(f"/api/v1/sites/{site_id}/certification/tests")).json()["probe_id"]
    await finish_probe(db, probe)
    signed = await tech.post(f"/api/v1/sites/{site_id}/certification/sign-off")
    assert signed.status_code == 200, signed.text
    return site_id


async def record_fault(
    db, conference_id: int, site_id: int, *, at, kind="dropped", cause="network"
):
    """What the bridge's supervision writes when a leg drops: the leg and its incident."""
    leg = Leg(
        conference_id=conference_id,
        site_id=site_id,
        kind="video",
        origin="launch",
        sip_uri="sip:boardroom@127.0.0.1",
        speed_kbps=768,
        state="reconnecting",
        created_at=at - timedelta(minutes=20),
        first_connected_at=at - timedelta(minutes=19),
        state_changed_at=at,
    )
    db.add(leg)
    await db.flush()
    db.add(
        Incident(
            leg_id=leg.id,
            conference_id=conference_id,
            site_id=site_id,
            kind=kind,
            cause=cause,
            began_at=at,
            recovery_deadline=at + timedelta(minutes=5),
        )
    )
    await db.flush()
    return leg


def booking(customer_id: int, site_ids: list[int], days: float) -> dict:
    start = (utcnow() + timedelta(days=days)).replace(microsecond=0)
    return {
        "customer_id": customer_id,
        "title": "Quarterly review",
        "leader_name": "Lee",
        "start": start.isoformat(),
        "end": (start + timedelta(hours=1)).isoformat(),
        "sites": [{"site_id": s} for s in site_ids],
    }


async def test_a_network_drop_requires_recertification_and_warns_the_next_booking(
    db, make_customer, make_user, client_as, sign_in
):
    customer = await make_customer()
    tech = await client_as(Role.TECHNICIAN)
    scheduler = await client_as(Role.SCHEDULER, customer_id=customer.id)
    site_id = await certified_site(tech, db, customer.id)
    other_id = await certified_site(tech, db, customer.id, name="Annex")
    held = await scheduler.post("/api/v1/conferences", json=booking(customer.id, [site_id], 1))
    assert held.status_code == 201, held.text
    assert held.json()["warnings"] == [] and held.json()["status"] == "confirmed"

    dropped_at = utcnow().replace(microsecond=0) - timedelta(minutes=3)
    await record_fault(db, held.json()["id"], site_id, at=dropped_at)
    await record_fault(db, held.json()["id"], other_id, at=dropped_at, cause="client_hardware")
    assert await recertification.recertify_after_network_faults(db) == 1
    assert await recertification.recertify_after_network_faults(db) == 0  # idempotent

    state = (await tech.get(f"/api/v1/sites/{site_id}/certification")).json()
    assert state["state"] == "recertification_required"
    assert state["deadline_kind"] == "recertification"
    assert state["certify_by"] == (dropped_at + timedelta(hours=24)).isoformat().replace(
        "+00:00", "Z"
    )
    assert (await tech.get(f"/api/v1/sites/{other_id}/certification")).json()[
        "state"
    ] == "certified"

    booked = await scheduler.post(
        "/api/v1/conferences", json=booking(customer.id, [site_id, other_id], 2)
    )
    assert booked.status_code == 201, booked.text  # it stays bookable ...
    body = booked.json()
    assert len(body["warnings"]) == 1  # ... with a warning naming the site
    assert "Boardroom" in body["warnings"][0] and "re-certified" in body["warnings"][0]
    assert body["status"] == "requested"  # not confirmed automatically any more
    shown = (await scheduler.get(f"/api/v1/conferences/{body['id']}")).json()
    assert shown["warnings"] == body["warnings"]
    listed = (await scheduler.get("/api/v1/conferences", params={"site_id": site_id})).json()
    assert {c["id"]: len(c["warnings"]) for c in listed["items"]} == {
        held.json()["id"]: 1,  # booked before the drop, warned from now on
        body["id"]: 1,
    }
    adhoc = await scheduler.post(
        "/api/v1/conferences/adhoc",
        json={"customer_id": customer.id, "title": "Now", "leader_name": "Lee",
              "sites": [{"site_id": site_id}], "minutes": 30},
    )  # fmt: skip
    assert adhoc.status_code == 201 and len(adhoc.json()["warnings"]) == 1
    page = await (await sign_in(await make_user(Role.SCHEDULER, customer_id=customer.id))).get(
        f"/conferences/{body['id']}"
    )
    assert 'data-testid="certification-warnings"' in page.text
    assert "must be re-certified" in page.text
    clean = await scheduler.post("/api/v1/conferences", json=booking(customer.id, [other_id], 3))
    assert clean.json()["warnings"] == []

    # A passing test and a sign-off made after the drop certify it again.
    probe = (await tech.post(f"/api/v1/sites/{site_id}/certification/tests")).json()["probe_id"]
    await finish_probe(db, probe)
    again = await tech.post(f"/api/v1/sites/{site_id}/certification/sign-off")
    assert again.status_code == 200 and again.json()["state"] == "certified"
    after = await scheduler.post("/api/v1/conferences", json=booking(customer.id, [site_id], 4))
    assert after.json()["warnings"] == []


async def test_a_fault_of_a_site_never_certified_keeps_its_first_deadline(
    db, make_customer, make_conference, client_as
):
    customer = await make_customer()
    tech = await client_as(Role.TECHNICIAN)
    site_id = (await tech.post("/api/v1/sites", json=site_body(customer.id))).json()["id"]
    before = (await tech.get(f"/api/v1/sites/{site_id}/certification")).json()
    scheduler = await client_as(Role.SCHEDULER, customer_id=customer.id)
    held = await scheduler.post("/api/v1/conferences", json=booking(customer.id, [site_id], 1))
    await record_fault(db, held.json()["id"], site_id, at=utcnow() - timedelta(minutes=1))
    assert await recertification.recertify_after_network_faults(db) == 0
    after = (await tech.get(f"/api/v1/sites/{site_id}/certification")).json()
    assert (after["state"], after["certify_by"]) == (before["state"], before["certify_by"])
    noted = await db.scalars(
        select(CertificationHistory.field).where(CertificationHistory.site_id == site_id)
    )
    assert "network_fault" in noted.all()
    assert "not certified yet" in held.json()["warnings"][0]
