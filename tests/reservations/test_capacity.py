"""Bridge capacity for scheduled bookings, and ad hoc conferences that are never refused."""

from datetime import timedelta

from sqlalchemy import select

from bridgedesk.clock import utcnow
from bridgedesk.identity import Role
from bridgedesk.models import OutboxMessage
from tests.payloads import conference_body


async def _customer_with_sites(make_customer, make_site, count, **site_overrides):
    customer = await make_customer()
    sites = [
        await make_site(customer=customer, name=f"Site {i}", **site_overrides) for i in range(count)
    ]
    return customer, sites


def _booking(customer, sites, start):
    return conference_body(customer.id, [s.id for s in sites], start, title="Scheduled")


def _adhoc(customer, sites):
    return {
        "customer_id": customer.id,
        "title": "Now",
        "leader_name": "Ada",
        "sites": [{"site_id": s.id} for s in sites],
        "minutes": 90,
    }


async def test_scheduled_legs_stop_at_ports_minus_reserve_while_adhoc_is_never_refused(
    db, make_customer, make_site, make_bridge, client_as
):
    bridge = await make_bridge(ports=4, adhoc_reserve=2)
    customer, sites = await _customer_with_sites(make_customer, make_site, 7)
    api = await client_as(Role.SCHEDULER, customer_id=customer.id)
    start = utcnow() + timedelta(minutes=30)

    first = await api.post("/api/v1/conferences", json=_booking(customer, sites[0:2], start))
    assert first.status_code == 201, first.text
    assert first.json()["bridge_id"] == bridge.id

    third_leg = await api.post(
        "/api/v1/conferences",
        json=_booking(customer, sites[2:3], start + timedelta(minutes=30)),
    )
    assert third_leg.status_code == 409
    body = third_leg.json()
    assert body["reason"] == "bridge capacity"
    assert body["busiest_instant"] == (start + timedelta(minutes=30)).isoformat()
    assert body["ports_in_use"] == 2 and body["ports_limit"] == 2

    # Not at the same time: fine.
    later = await api.post(
        "/api/v1/conferences", json=_booking(customer, sites[2:3], start + timedelta(hours=1))
    )
    assert later.status_code == 201

    adhoc = await api.post("/api/v1/conferences/adhoc", json=_adhoc(customer, sites[3:5]))
    assert adhoc.status_code == 201, adhoc.text
    assert adhoc.json()["overflow"] is False
    assert adhoc.json()["status"] == "confirmed"

    overflow = await api.post("/api/v1/conferences/adhoc", json=_adhoc(customer, sites[5:7]))
    assert overflow.status_code == 201
    assert overflow.json()["overflow"] is True
    alerts = (
        await db.scalars(select(OutboxMessage).where(OutboxMessage.topic == "adhoc_overflow"))
    ).all()
    assert len(alerts) == 1
    assert overflow.json()["number"] in alerts[0].subject
    assert alerts[0].recipients == ["operators@localhost"]


async def test_adhoc_ready_by_grows_with_uncertified_sites(db, make_customer, make_site, client_as):
    customer = await make_customer()
    certified = [
        await make_site(customer=customer, certification_state="certified") for _ in range(2)
    ]
    uncertified = [await make_site(customer=customer) for _ in range(2)]
    api = await client_as(Role.SCHEDULER, customer_id=customer.id)

    quick = (await api.post("/api/v1/conferences/adhoc", json=_adhoc(customer, certified))).json()
    booked = quick["booked_at"]
    assert _minutes_between(booked, quick["ready_by"]) == 5
    slow = (await api.post("/api/v1/conferences/adhoc", json=_adhoc(customer, uncertified))).json()
    assert _minutes_between(slow["booked_at"], slow["ready_by"]) == 15


async def test_adhoc_with_a_busy_site_goes_ahead_without_it(
    db, make_customer, make_site, client_as
):
    customer, sites = await _customer_with_sites(make_customer, make_site, 2)
    api = await client_as(Role.SCHEDULER, customer_id=customer.id)
    first = await api.post("/api/v1/conferences/adhoc", json=_adhoc(customer, sites[:1]))
    second = await api.post("/api/v1/conferences/adhoc", json=_adhoc(customer, sites))
    assert second.status_code == 201
    body = second.json()
    assert [s["site_id"] for s in body["sites"]] == [sites[1].id]
    assert body["unavailable_sites"][0]["conference_number"] == first.json()["number"]


async def test_adhoc_refused_only_for_bad_input(db, make_customer, make_site, client_as):
    customer, sites = await _customer_with_sites(make_customer, make_site, 1)
    api = await client_as(Role.SCHEDULER, customer_id=customer.id)
    other = await make_customer()
    bad = await api.post("/api/v1/conferences/adhoc", json=_adhoc(other, sites))
    assert bad.status_code in (403, 404)
    empty = await api.post("/api/v1/conferences/adhoc", json=_adhoc(customer, []))
    assert empty.status_code == 422
    billing = await client_as(Role.BILLING, customer_id=customer.id)
    assert (
        await billing.post("/api/v1/conferences/adhoc", json=_adhoc(customer, sites))
    ).status_code == 403


def _minutes_between(a: str, b: str) -> float:
    from datetime import datetime

    return (datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds() / 60


async def test_adhoc_legs_past_the_reserve_count_against_scheduled_ports(
    db, make_customer, make_site, make_bridge, client_as
):
    await make_bridge(ports=4, adhoc_reserve=2)
    customer, sites = await _customer_with_sites(make_customer, make_site, 6)
    api = await client_as(Role.SCHEDULER, customer_id=customer.id)
    # Four ad hoc legs: all four ports, two of them beyond the reserve; not overflow.
    adhoc = await api.post("/api/v1/conferences/adhoc", json=_adhoc(customer, sites[:4]))
    assert adhoc.json()["overflow"] is False
    start = utcnow() + timedelta(minutes=20)
    refused = await api.post("/api/v1/conferences", json=_booking(customer, sites[4:6], start))
    assert refused.status_code == 409
    assert refused.json()["ports_in_use"] == 2 and refused.json()["ports_limit"] == 2
    # After the ad hoc call (90 minutes) the ports are free for scheduled legs again.
    later = await api.post(
        "/api/v1/conferences", json=_booking(customer, sites[4:6], start + timedelta(hours=2))
    )
    assert later.status_code == 201, later.text


async def test_operators_hear_of_an_adhoc_call_that_left_busy_sites_out(
    db, make_customer, make_site, client_as
):
    customer, sites = await _customer_with_sites(make_customer, make_site, 1)
    api = await client_as(Role.SCHEDULER, customer_id=customer.id)
    await api.post("/api/v1/conferences/adhoc", json=_adhoc(customer, sites))
    second = await api.post("/api/v1/conferences/adhoc", json=_adhoc(customer, sites))
    assert second.status_code == 201
    assert second.json()["sites"] == []
    alerts = (
        await db.scalars(
            select(OutboxMessage).where(OutboxMessage.topic == "adhoc_sites_unavailable")
        )
    ).all()
    assert len(alerts) == 1 and second.json()["number"] in alerts[0].subject
    assert alerts[0].recipients == ["operators@localhost"]
