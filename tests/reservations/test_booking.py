"""Booking through the API: all-or-nothing, conflicts named, back-to-back allowed."""

from datetime import timedelta

from sqlalchemy import func, select

from bridgedesk.clock import utcnow
from bridgedesk.identity import Role
from reservations.models import Conference, SiteHold
from tests.payloads import conference_body


async def test_booking_then_conflict_names_every_site_and_holds_nothing(
    db, client_as, make_site, make_customer
):
    customer = await make_customer()
    a = await make_site(customer=customer, name="Alpha")
    b = await make_site(customer=customer, name="Beta")
    c = await make_site(customer=customer, name="Gamma")
    api = await client_as(Role.SCHEDULER, customer_id=customer.id)
    start = utcnow() + timedelta(days=2)
    first = await api.post(
        "/api/v1/conferences", json=conference_body(customer.id, [a.id, b.id], start)
    )
    assert first.status_code == 201, first.text
    number = first.json()["number"]
    assert number.startswith(f"C-{utcnow().year}-")
    holds_before = await db.scalar(select(func.count(SiteHold.id)))

    clash = conference_body(
        customer.id, [c.id, a.id, b.id], start + timedelta(minutes=30), minutes=90, title="Clash"
    )
    refused = await api.post("/api/v1/conferences", json=clash)
    assert refused.status_code == 409
    body = refused.json()
    assert "detail" in body
    assert sorted((x["site_id"], x["conference_number"]) for x in body["conflicts"]) == [
        (a.id, number),
        (b.id, number),
    ]
    # All-or-nothing: Gamma, which was free, is not held by the refused booking.
    assert await db.scalar(select(func.count(SiteHold.id))) == holds_before
    assert await db.scalar(select(func.count(Conference.id))) == 1


async def test_back_to_back_bookings_are_allowed(db, client_as, make_site):
    site = await make_site()
    api = await client_as(Role.SCHEDULER, customer_id=site.customer_id)
    start = utcnow().replace(microsecond=0) + timedelta(days=1)
    numbers = []
    for offset in (0, 1):
        s = start + timedelta(hours=offset)
        response = await api.post(
            "/api/v1/conferences",
            json=conference_body(site.customer_id, [site.id], s, title=f"Slot {offset}"),
        )
        assert response.status_code == 201, response.text
        numbers.append(response.json()["number"])
    busy = await api.get(
        "/api/v1/availability",
        params={
            "site_id": site.id,
            "from": start.isoformat(),
            "to": (start + timedelta(hours=2)).isoformat(),
        },
    )
    # Both held, the first ending exactly where the second begins.
    assert [
        (b["conference_number"], b["start"], b["end"]) for b in busy.json()["sites"][0]["busy"]
    ] == [
        (numbers[0], _z(start), _z(start + timedelta(hours=1))),
        (numbers[1], _z(start + timedelta(hours=1)), _z(start + timedelta(hours=2))),
    ]


def _z(instant):
    """How the API writes a UTC instant."""
    return instant.isoformat().replace("+00:00", "Z")


async def test_cancelled_booking_frees_the_site(db, client_as, make_site):
    site = await make_site()
    api = await client_as(Role.SCHEDULER, customer_id=site.customer_id)
    start = utcnow() + timedelta(days=1)
    payload = conference_body(site.customer_id, [site.id], start, title="T", leader_name="L")
    first = (await api.post("/api/v1/conferences", json=payload)).json()
    assert (await api.post("/api/v1/conferences", json=payload)).status_code == 409
    cancelled = await api.post(f"/api/v1/conferences/{first['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert (await api.post("/api/v1/conferences", json=payload)).status_code == 201
