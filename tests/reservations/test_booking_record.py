"""Recording a conference that was already held (`record: true`): operators and admins only,
created `ended` with no confirmation deadline, and still never overlapping a held site."""

from datetime import UTC, datetime, timedelta

import time_machine
from sqlalchemy import func, select

from bridgedesk.identity import Role
from reservations.models import Conference, SiteHold
from tests.payloads import conference_body

T0 = datetime(2027, 5, 3, 14, 0, tzinfo=UTC)


def _body(site, start: datetime):
    return conference_body(
        site.customer_id, [site.id], start, title="Held on an external MCU", record=True
    )


async def _counts(db) -> tuple[int, int]:
    return (
        await db.scalar(select(func.count(Conference.id))),
        await db.scalar(select(func.count(SiteHold.id))),
    )


async def test_operator_records_a_past_conference(db, client_as, make_site):
    site = await make_site(certification_state="certified")
    with time_machine.travel(T0, tick=False):
        operator = await client_as(Role.OPERATOR)
        response = await operator.post(
            "/api/v1/conferences", json=_body(site, T0 - timedelta(days=2))
        )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "ended"
    assert body["recorded"] is True
    assert body["confirmation_due"] is None
    assert body["confirmed_at"] is None  # certified sites do not "confirm" a past call
    assert body["overdue"] is False
    assert datetime.fromisoformat(body["start"]) == T0 - timedelta(days=2)
    with time_machine.travel(T0, tick=False):
        queue = (await operator.get("/api/v1/confirmations")).json()
    assert body["id"] not in [item["id"] for item in queue["items"]]


async def test_admin_may_record_too(db, client_as, make_site):
    site = await make_site()
    with time_machine.travel(T0, tick=False):
        admin = await client_as(Role.ADMIN)
        response = await admin.post(
            "/api/v1/conferences", json=_body(site, T0 - timedelta(hours=3))
        )
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "ended"


async def test_a_recorded_conference_may_not_overlap_its_sites(db, client_as, make_site):
    site = await make_site()
    other = await make_site(customer_id=site.customer_id)
    # A booking made last week for yesterday afternoon, and now an attempt to record a call
    # on the same site at an overlapping time.
    with time_machine.travel(T0 - timedelta(days=7), tick=False):
        scheduler = await client_as(Role.SCHEDULER, customer_id=site.customer_id)
        booked = await scheduler.post(
            "/api/v1/conferences",
            json={**_body(site, T0 - timedelta(days=1)), "record": False},
        )
        assert booked.status_code == 201, booked.text
    with time_machine.travel(T0, tick=False):
        operator = await client_as(Role.OPERATOR)
        before = await _counts(db)
        overlapping = {
            **_body(site, T0 - timedelta(days=1, minutes=-30)),
            "sites": [{"site_id": other.id}, {"site_id": site.id}],
        }
        refused = await operator.post("/api/v1/conferences", json=overlapping)
        assert refused.status_code == 409, refused.text
        conflicts = refused.json()["conflicts"]
        assert [(c["site_id"], c["conference_number"]) for c in conflicts] == [
            (site.id, booked.json()["number"])
        ]
        assert await _counts(db) == before  # the free site is not held either

        # Two recorded calls cannot overlap each other either; back to back is fine.
        first = await operator.post(
            "/api/v1/conferences", json=_body(site, T0 - timedelta(hours=5))
        )
        assert first.status_code == 201, first.text
        clash = await operator.post(
            "/api/v1/conferences", json=_body(site, T0 - timedelta(hours=4, minutes=30))
        )
        assert clash.status_code == 409
        adjacent = await operator.post(
            "/api/v1/conferences", json=_body(site, T0 - timedelta(hours=4))
        )
        assert adjacent.status_code == 201, adjacent.text


async def test_a_recorded_conference_must_be_over(db, client_as, make_site):
    site = await make_site()
    with time_machine.travel(T0, tick=False):
        operator = await client_as(Role.OPERATOR)
        before = await _counts(db)
        running = await operator.post(
            "/api/v1/conferences", json=_body(site, T0 - timedelta(minutes=30))
        )
    assert running.status_code == 422
    assert running.json()["detail"]
    assert await _counts(db) == before


async def test_schedulers_may_not_record(db, client_as, make_site):
    site = await make_site()
    with time_machine.travel(T0, tick=False):
        scheduler = await client_as(Role.SCHEDULER, customer_id=site.customer_id)
        before = await _counts(db)
        past = await scheduler.post("/api/v1/conferences", json=_body(site, T0 - timedelta(days=1)))
        future = await scheduler.post(
            "/api/v1/conferences", json=_body(site, T0 + timedelta(days=1))
        )
    assert past.status_code == 403 and past.json()["detail"]
    assert future.status_code == 403
    assert await _counts(db) == before
