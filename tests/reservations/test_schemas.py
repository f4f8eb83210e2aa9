"""Bad input is refused with a 4xx and a JSON `detail`, and changes nothing in the database.

Request bodies are built before the first snapshot: it expires the factory objects they read.
"""

from datetime import datetime, timedelta
from typing import Any

import pytest

from bridgedesk.clock import utcnow
from bridgedesk.identity import Role
from reservations.service.booking import BookingRequest, InvalidBooking, SiteRequest, book
from tests.payloads import conference_body
from tests.snapshots import snapshot

LONG = "x" * 201


@pytest.fixture
async def world(db, make_customer, make_site, client_as):
    """A customer with two sites and a booking, another customer's site, and an operator."""
    customer = await make_customer(timezone="Pacific/Kiritimati")
    site = await make_site(customer=customer, max_speed_kbps=768)
    spare = await make_site(customer=customer)
    foreign = await make_site()
    scheduler = await client_as(Role.SCHEDULER, customer_id=customer.id)
    operator = await client_as(Role.OPERATOR)
    start = (utcnow() + timedelta(days=3)).replace(microsecond=0)
    booked = await scheduler.post(
        "/api/v1/conferences", json=conference_body(customer.id, [site.id], start, title="Existing")
    )
    assert booked.status_code == 201, booked.text
    return {
        "customer": customer,
        "site": site,
        "spare": spare,
        "foreign": foreign,
        "scheduler": scheduler,
        "operator": operator,
        "start": start,
        "conference": booked.json(),
    }


def _booking(world: dict[str, Any], **changes: Any) -> dict[str, Any]:
    start = world["start"] + timedelta(days=1)
    body = conference_body(world["customer"].id, [world["spare"].id], start)
    body.update(changes)
    return body


def _later(world: dict[str, Any], **delta: float) -> str:
    return (world["start"] + timedelta(days=1) + timedelta(**delta)).isoformat()


# name -> a function of the world giving the booking body (or raw content) to send.
BAD_BOOKINGS = {
    "naive start": lambda w: _booking(w, start=_later(w)[:19]),
    "naive end": lambda w: _booking(w, end=_later(w, hours=1)[:19]),
    "end equals start": lambda w: _booking(w, end=_later(w)),
    "end before start": lambda w: _booking(w, end=_later(w, minutes=-1)),
    "longer than 24 h": lambda w: _booking(w, end=_later(w, hours=24, minutes=1)),
    "start in the past": lambda w: _booking(
        w,
        start=(utcnow() - timedelta(minutes=5)).isoformat(),
        end=(utcnow() + timedelta(minutes=55)).isoformat(),
    ),
    "start long ago": lambda w: _booking(
        w, start="2001-01-01T10:00:00+00:00", end="2001-01-01T11:00:00+00:00"
    ),
    "not a date": lambda w: _booking(w, start="tomorrow morning"),
    "the last hour of year 9999, west of UTC": lambda w: _booking(
        w, start="9999-12-31T20:00:00-05:00", end="9999-12-31T21:00:00-05:00"
    ),
    "the first hour of year 1, east of UTC": lambda w: _booking(
        w, start="0001-01-01T01:00:00+05:00", end="0001-01-01T02:00:00+05:00"
    ),
    "unknown site": lambda w: _booking(w, sites=[{"site_id": 987654321}]),
    "another customer's site": lambda w: _booking(w, sites=[{"site_id": w["foreign"].id}]),
    "one good site and one foreign": lambda w: _booking(
        w, sites=[{"site_id": w["spare"].id}, {"site_id": w["foreign"].id}]
    ),
    "empty site list": lambda w: _booking(w, sites=[]),
    "no site list": lambda w: {k: v for k, v in _booking(w).items() if k != "sites"},
    "same site twice": lambda w: _booking(
        w, sites=[{"site_id": w["spare"].id}, {"site_id": w["spare"].id}]
    ),
    "speed above the site's maximum": lambda w: _booking(
        w, sites=[{"site_id": w["site"].id, "speed_kbps": 2048}]
    ),
    "zero speed": lambda w: _booking(w, sites=[{"site_id": w["spare"].id, "speed_kbps": 0}]),
    "oversized title": lambda w: _booking(w, title=LONG),
    "blank title": lambda w: _booking(w, title="   "),
    "oversized leader name": lambda w: _booking(w, leader_name=LONG),
    "oversized project code": lambda w: _booking(w, project_code="P" * 61),
    "oversized feature code": lambda w: _booking(w, features=["f" * 41]),
    "too many features": lambda w: _booking(w, features=[f"f{i}" for i in range(21)]),
    "unknown field": lambda w: _booking(w, colour="blue"),
    "unknown customer": lambda w: _booking(w, customer_id=987654321),
    "another customer": lambda w: _booking(w, customer_id=w["foreign"].customer_id),
    "site id beyond 64 bits": lambda w: _booking(w, sites=[{"site_id": 2**70}]),
    "customer id beyond 64 bits": lambda w: _booking(w, customer_id=2**70),
    "NUL in the title": lambda w: _booking(w, title="Board\x00meeting"),
    "a string for the site list": lambda w: _booking(w, sites="all of them"),
    "a list for the body": lambda w: [_booking(w)],
}


@pytest.mark.parametrize("case", BAD_BOOKINGS)
async def test_bad_booking_is_refused_and_changes_nothing(db, world, case):
    body = BAD_BOOKINGS[case](world)
    before = await snapshot(db)
    response = await world["scheduler"].post("/api/v1/conferences", json=body)
    assert 400 <= response.status_code < 500, response.text
    assert response.status_code not in (401, 403)
    assert "detail" in response.json()
    assert await snapshot(db) == before


async def test_a_booking_that_is_not_json_is_refused(db, world):
    before = await snapshot(db)
    response = await world["scheduler"].post(
        "/api/v1/conferences", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert "detail" in response.json()
    assert await snapshot(db) == before


async def test_the_limits_themselves_are_accepted(db, world):
    """The positive control: exactly 24 h, 200-character names, a start a minute from now."""
    soon = utcnow() + timedelta(minutes=1)
    exactly_a_day = _booking(
        world,
        title="t" * 200,
        leader_name="l" * 200,
        project_code="p" * 60,
        end=_later(world, hours=24),
    )
    response = await world["scheduler"].post("/api/v1/conferences", json=exactly_a_day)
    assert response.status_code == 201, response.text
    stored = response.json()
    assert (stored["title"], stored["leader_name"], stored["project_code"]) == (
        "t" * 200,
        "l" * 200,
        "p" * 60,
    )
    length = datetime.fromisoformat(stored["end"]) - datetime.fromisoformat(stored["start"])
    assert length == timedelta(hours=24)
    response = await world["scheduler"].post(
        "/api/v1/conferences",
        json=_booking(
            world, start=soon.isoformat(), end=(soon + timedelta(minutes=30)).isoformat()
        ),
    )
    assert response.status_code == 201, response.text
    assert datetime.fromisoformat(response.json()["start"]) == soon


BAD_SITES = {
    "unknown zone": {"timezone": "Mars/Olympus_Mons"},
    "naive-looking zone": {"timezone": "+14:00"},
    "a folder of zones": {"timezone": "America"},
    "the server's own zone": {"timezone": "localtime"},
    "not a SIP URI": {"sip_uri": "http://room.example"},
    "oversized name": {"name": LONG},
    "oversized SIP URI": {"sip_uri": "sip:" + "a" * 300},
    "zero speed": {"max_speed_kbps": 0},
    "unknown kind": {"kind": "boardroom"},
    "unknown customer": {"customer_id": 987654321},
    "customer id beyond 64 bits": {"customer_id": 2**70},
    "contact without a name": {"contacts": [{"phone": "+1 555 0100"}]},
    "contact with a bad email": {"contacts": [{"name": "Tech", "email": "not-an-email"}]},
}


@pytest.mark.parametrize("case", BAD_SITES)
async def test_bad_site_is_refused_and_changes_nothing(db, world, case):
    body = {
        "customer_id": world["customer"].id,
        "name": "New room",
        "kind": "room",
        "timezone": "Pacific/Pago_Pago",
        "sip_uri": "sip:new@127.0.0.1",
        "max_speed_kbps": 768,
        "billing_zone": "PACIFIC",
        **BAD_SITES[case],
    }
    before = await snapshot(db)
    response = await world["scheduler"].post("/api/v1/sites", json=body)
    assert 400 <= response.status_code < 500 and response.status_code not in (401, 403), (
        response.text
    )
    assert "detail" in response.json()
    assert await snapshot(db) == before


async def test_another_customer_site_cannot_be_registered_by_a_scheduler(db, world):
    body = {
        "customer_id": world["foreign"].customer_id,
        "name": "Sneaky",
        "kind": "room",
        "timezone": "UTC",
        "sip_uri": "sip:sneaky@127.0.0.1",
        "max_speed_kbps": 768,
        "billing_zone": "US",
    }
    before = await snapshot(db)
    response = await world["scheduler"].post("/api/v1/sites", json=body)
    assert response.status_code in (403, 404)
    assert "detail" in response.json()
    assert await snapshot(db) == before


BAD_CUSTOMERS = {
    "unknown zone": {"timezone": "Nowhere/Special"},
    "oversized name": {"name": LONG},
    "bad billing email": {"billing_emails": ["finance at example"]},
    "duplicate name": {"name": "__existing__"},
}


@pytest.mark.parametrize("case", BAD_CUSTOMERS)
async def test_bad_customer_is_refused_and_changes_nothing(db, world, case):
    body = {"name": "Fresh customer", "timezone": "Pacific/Kiritimati", **BAD_CUSTOMERS[case]}
    if body["name"] == "__existing__":
        body["name"] = world["customer"].name
    before = await snapshot(db)
    response = await world["operator"].post("/api/v1/customers", json=body)
    assert 400 <= response.status_code < 500 and response.status_code not in (401, 403), (
        response.text
    )
    assert "detail" in response.json()
    assert await snapshot(db) == before


BAD_BRIDGES = {
    "reserve above ports": {"ports": 4, "adhoc_reserve": 5},
    "no ports": {"ports": 0},
    "negative reserve": {"adhoc_reserve": -1},
    "not a SIP URI": {"sip_uri": "bridge.example"},
}


@pytest.mark.parametrize("case", BAD_BRIDGES)
async def test_bad_bridge_is_refused_and_changes_nothing(db, world, case):
    body = {"name": "Bridge X", "sip_uri": "sip:x@127.0.0.1", "ports": 24, "adhoc_reserve": 4}
    before = await snapshot(db)
    response = await world["operator"].post("/api/v1/bridges", json={**body, **BAD_BRIDGES[case]})
    assert response.status_code == 422, response.text
    assert "detail" in response.json()
    assert await snapshot(db) == before


BAD_QUERIES = {
    "naive from": "/api/v1/conferences?from=2027-01-01T00:00:00",
    "from beyond the calendar": "/api/v1/conferences?from=9999-12-31T23:00:00-05:00",
    "availability beyond the calendar": (
        "/api/v1/availability?site_id={site}"
        "&from=9999-12-31T20:00:00-05:00&to=9999-12-31T21:00:00-05:00"
    ),
    "unknown status": "/api/v1/conferences?status=postponed",
    "negative offset": "/api/v1/conferences?offset=-1",
    "huge limit": "/api/v1/conferences?limit=100000",
    "availability to before from": (
        "/api/v1/availability?site_id={site}&from=2027-01-02T00:00:00Z&to=2027-01-01T00:00:00Z"
    ),
    "availability naive": (
        "/api/v1/availability?site_id={site}&from=2027-01-01T00:00:00&to=2027-01-02T00:00:00"
    ),
    "availability without a site": (
        "/api/v1/availability?from=2027-01-01T00:00:00Z&to=2027-01-02T00:00:00Z"
    ),
    "availability over a year": (
        "/api/v1/availability?site_id={site}&from=2027-01-01T00:00:00Z&to=2028-01-02T00:00:00Z"
    ),
    "availability of another customer's site": (
        "/api/v1/availability?site_id={foreign}&from=2027-01-01T00:00:00Z&to=2027-01-02T00:00:00Z"
    ),
    "conference id not a number": "/api/v1/conferences/first",
    "conference id beyond 64 bits": f"/api/v1/conferences/{2**70}",
    "site id beyond 64 bits": f"/api/v1/sites/{2**70}",
    "customer id beyond 64 bits": f"/api/v1/customers/{2**70}",
    "availability site id beyond 64 bits": (
        f"/api/v1/availability?site_id={2**70}&from=2027-01-01T00:00:00Z&to=2027-01-02T00:00:00Z"
    ),
    "conference filter site id beyond 64 bits": f"/api/v1/conferences?site_id={2**70}",
}


@pytest.mark.parametrize("case", BAD_QUERIES)
async def test_bad_query_is_a_4xx_with_a_detail(db, world, case):
    url = BAD_QUERIES[case].format(site=world["site"].id, foreign=world["foreign"].id)
    response = await world["scheduler"].get(url)
    assert 400 <= response.status_code < 500 and response.status_code not in (401, 403), (
        response.text
    )
    assert "detail" in response.json()


@pytest.mark.parametrize("action", ["confirm", "cancel"])
async def test_actions_on_a_huge_conference_id_are_4xx(db, world, action):
    before = await snapshot(db)
    response = await world["operator"].post(f"/api/v1/conferences/{2**70}/{action}")
    assert response.status_code in (404, 422), response.text
    assert "detail" in response.json()
    assert await snapshot(db) == before


@pytest.mark.parametrize(
    "field, value",
    [("title", "x" * 201), ("title", ""), ("leader_name", "a\x00b"), ("project_code", "p" * 61)],
)
async def test_the_service_bounds_free_text_whoever_calls_it(
    db, make_site, make_actor, field, value
):
    site = await make_site()
    scheduler = await make_actor(Role.SCHEDULER, customer_id=site.customer_id)
    start = utcnow() + timedelta(days=1)
    request = BookingRequest(
        **{
            "customer_id": site.customer_id,
            "title": "Review",
            "leader_name": "Lee",
            "start": start,
            "end": start + timedelta(hours=1),
            "sites": [SiteRequest(site.id)],
            field: value,
        }
    )
    before = await snapshot(db)
    with pytest.raises(InvalidBooking):
        await book(db, request, by=scheduler)
    assert await snapshot(db) == before
