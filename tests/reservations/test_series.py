"""Recurring series through the API: all-or-nothing, skip_conflicts, deadlines, move, cancel."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from bridgedesk.identity import Role
from reservations.models import Conference

NOW = datetime(2027, 2, 20, 12, 0, tzinfo=UTC)
FIRST = datetime(2027, 3, 1, 14, 0, tzinfo=UTC)  # Monday 09:00 in New York


@pytest.fixture(autouse=True)
def frozen_time(request):
    """Booked on NOW unless a test says otherwise; tokens are issued inside the frozen time."""
    moment = getattr(request, "param", NOW)
    with time_machine.travel(moment, tick=False) as traveller:
        yield traveller


def _payload(customer_id, site_ids, start=FIRST, rule="FREQ=WEEKLY;BYDAY=MO;COUNT=4", **extra):
    return {
        "customer_id": customer_id,
        "title": "Weekly review",
        "leader_name": "Lee",
        "start": start.isoformat(),
        "end": (start + timedelta(hours=1)).isoformat(),
        "sites": [{"site_id": i} for i in site_ids],
        "recurrence": {"rrule": rule, **extra},
    }


async def _setup(make_customer, make_site, client_as):
    customer = await make_customer(timezone="America/New_York")
    site = await make_site(customer=customer, name="Boardroom")
    api = await client_as(Role.SCHEDULER, customer_id=customer.id)
    return customer, site, api


async def test_series_books_every_occurrence_with_the_series_deadlines(
    db, make_customer, make_site, client_as
):
    customer, site, api = await _setup(make_customer, make_site, client_as)
    response = await api.post("/api/v1/conferences", json=_payload(customer.id, [site.id]))
    assert response.status_code == 201, response.text
    body = response.json()
    starts = [datetime.fromisoformat(o["start"]) for o in body["occurrences"]]
    assert starts == [
        FIRST,
        FIRST + timedelta(days=7),
        datetime(2027, 3, 15, 13, 0, tzinfo=UTC),
        datetime(2027, 3, 22, 13, 0, tzinfo=UTC),
    ]
    dues = [datetime.fromisoformat(o["confirmation_due"]) for o in body["occurrences"]]
    # First meeting 9 days ahead: 8 h; every later one: 48 h after booking.
    assert dues == [NOW + timedelta(hours=8)] + [NOW + timedelta(hours=48)] * 3
    assert body["skipped"] == []
    series = await api.get(f"/api/v1/series/{body['series_id']}")
    assert [o["number"] for o in series.json()["occurrences"]] == [
        o["number"] for o in body["occurrences"]
    ]


async def test_later_occurrence_deadline_never_after_its_start(
    db, make_customer, make_site, client_as, frozen_time
):
    booked = datetime(2027, 2, 28, 20, 0, tzinfo=UTC)
    frozen_time.move_to(booked)
    customer, site, api = await _setup(make_customer, make_site, client_as)
    response = await api.post(
        "/api/v1/conferences",
        json=_payload(customer.id, [site.id], rule="FREQ=DAILY;COUNT=3"),
    )
    assert response.status_code == 201, response.text
    occurrences = response.json()["occurrences"]
    # 2nd meeting starts 2027-03-02 14:00Z, 42 h after booking: due at its start, not +48 h.
    assert occurrences[1]["confirmation_due"] == occurrences[1]["start"].replace("+00:00", "Z")
    assert datetime.fromisoformat(occurrences[2]["confirmation_due"]) == booked + timedelta(
        hours=48
    )


async def test_series_hitting_a_busy_occurrence_is_refused_whole(
    db, make_customer, make_site, client_as
):
    customer, site, api = await _setup(make_customer, make_site, client_as)
    third = datetime(2027, 3, 15, 13, 0, tzinfo=UTC)
    blocker = await api.post(
        "/api/v1/conferences",
        json={
            "customer_id": customer.id,
            "title": "Blocker",
            "leader_name": "Bo",
            "start": (third + timedelta(minutes=30)).isoformat(),
            "end": (third + timedelta(hours=2)).isoformat(),
            "sites": [{"site_id": site.id}],
        },
    )
    assert blocker.status_code == 201
    before = await db.scalar(select(func.count(Conference.id)))
    refused = await api.post("/api/v1/conferences", json=_payload(customer.id, [site.id]))
    assert refused.status_code == 409
    body = refused.json()
    assert "2027-03-15 13:00" in body["detail"]
    assert [s["start"] for s in body["skipped"]] == [third.isoformat()]
    assert body["conflicts"][0]["conference_number"] == blocker.json()["number"]
    assert await db.scalar(select(func.count(Conference.id))) == before

    skipping = await api.post(
        "/api/v1/conferences",
        json=_payload(customer.id, [site.id], skip_conflicts=True),
    )
    assert skipping.status_code == 201, skipping.text
    body = skipping.json()
    assert len(body["occurrences"]) == 3
    assert [s["index"] for s in body["skipped"]] == [2]
    assert body["skipped"][0]["conflicts"][0]["conference_number"] == blocker.json()["number"]


async def test_cancel_one_occurrence_or_the_rest(db, make_customer, make_site, client_as):
    customer, site, api = await _setup(make_customer, make_site, client_as)
    body = (await api.post("/api/v1/conferences", json=_payload(customer.id, [site.id]))).json()
    ids = [o["id"] for o in body["occurrences"]]
    one = await api.post(f"/api/v1/conferences/{ids[1]}/cancel")
    assert one.status_code == 200 and one.json()["status"] == "cancelled"
    rest = await api.post(f"/api/v1/conferences/{ids[2]}/cancel", json={"scope": "following"})
    assert rest.status_code == 200
    series = (await api.get(f"/api/v1/series/{body['series_id']}")).json()
    assert [o["status"] for o in series["occurrences"]] == [
        "requested",
        "cancelled",
        "cancelled",
        "cancelled",
    ]


async def test_move_one_occurrence_and_its_slot_is_free_again(
    db, make_customer, make_site, client_as
):
    customer, site, api = await _setup(make_customer, make_site, client_as)
    body = (await api.post("/api/v1/conferences", json=_payload(customer.id, [site.id]))).json()
    second = body["occurrences"][1]
    new_start = datetime.fromisoformat(second["start"]) + timedelta(hours=3)
    moved = await api.patch(
        f"/api/v1/conferences/{second['id']}",
        json={
            "start": new_start.isoformat(),
            "end": (new_start + timedelta(hours=1)).isoformat(),
        },
    )
    assert moved.status_code == 200, moved.text
    assert datetime.fromisoformat(moved.json()["items"][0]["start"]) == new_start
    # The old slot is free again; the new one is taken.
    old = datetime.fromisoformat(second["start"])
    free = await api.post(
        "/api/v1/conferences",
        json={
            "customer_id": customer.id,
            "title": "Fill",
            "leader_name": "F",
            "start": old.isoformat(),
            "end": (old + timedelta(hours=1)).isoformat(),
            "sites": [{"site_id": site.id}],
        },
    )
    assert free.status_code == 201
    taken = await api.post(
        "/api/v1/conferences",
        json={
            "customer_id": customer.id,
            "title": "Clash",
            "leader_name": "C",
            "start": new_start.isoformat(),
            "end": (new_start + timedelta(hours=1)).isoformat(),
            "sites": [{"site_id": site.id}],
        },
    )
    assert taken.status_code == 409


async def test_move_following_shifts_the_rest_and_refuses_into_a_conflict(
    db, make_customer, make_site, client_as
):
    customer, site, api = await _setup(make_customer, make_site, client_as)
    body = (await api.post("/api/v1/conferences", json=_payload(customer.id, [site.id]))).json()
    occurrences = body["occurrences"]
    # Occupy the slot 2 hours after the last meeting.
    last = datetime.fromisoformat(occurrences[3]["start"])
    await api.post(
        "/api/v1/conferences",
        json={
            "customer_id": customer.id,
            "title": "Later",
            "leader_name": "L",
            "start": (last + timedelta(hours=2)).isoformat(),
            "end": (last + timedelta(hours=3)).isoformat(),
            "sites": [{"site_id": site.id}],
        },
    )
    second = datetime.fromisoformat(occurrences[1]["start"])
    refused = await api.patch(
        f"/api/v1/conferences/{occurrences[1]['id']}",
        json={
            "start": (second + timedelta(hours=2)).isoformat(),
            "end": (second + timedelta(hours=3)).isoformat(),
            "scope": "following",
        },
    )
    assert refused.status_code == 409
    shifted = await api.patch(
        f"/api/v1/conferences/{occurrences[1]['id']}",
        json={
            "start": (second + timedelta(minutes=30)).isoformat(),
            "end": (second + timedelta(minutes=90)).isoformat(),
            "scope": "following",
        },
    )
    assert shifted.status_code == 200, shifted.text
    starts = [datetime.fromisoformat(c["start"]) for c in shifted.json()["items"]]
    assert starts == [
        datetime.fromisoformat(o["start"]) + timedelta(minutes=30) for o in occurrences[1:]
    ]


async def test_bad_rules_are_422_and_book_nothing(db, make_customer, make_site, client_as):
    customer, site, api = await _setup(make_customer, make_site, client_as)
    for rule in ("FREQ=HOURLY;COUNT=2", "FREQ=DAILY", "FREQ=DAILY;COUNT=900"):
        response = await api.post(
            "/api/v1/conferences", json=_payload(customer.id, [site.id], rule=rule)
        )
        assert response.status_code == 422, rule
        assert "detail" in response.json()
    assert await db.scalar(select(func.count(Conference.id))) == 0


async def test_preview_lists_every_occurrence_with_its_conflicts_and_writes_nothing(
    db, make_customer, make_site, make_actor, make_conference
):
    from reservations.service.booking import BookingRequest, SiteRequest
    from reservations.service.series import preview_series

    customer = await make_customer(timezone="America/New_York")
    site = await make_site(customer=customer)
    blocker = await make_conference(
        sites=[site], start=FIRST + timedelta(days=7), end=FIRST + timedelta(days=7, hours=2)
    )
    before = await db.scalar(select(func.count(Conference.id)))
    preview = await preview_series(
        db,
        BookingRequest(
            customer.id, "Weekly", "L", FIRST, FIRST + timedelta(hours=1), [SiteRequest(site.id)]
        ),
        "FREQ=WEEKLY;BYDAY=MO;COUNT=3",
        by=await make_actor(Role.SCHEDULER, customer_id=customer.id),
    )
    # The third Monday is after the DST change: still 09:00 local, an hour earlier in UTC.
    assert [p.start for p in preview] == [
        FIRST,
        FIRST + timedelta(days=7),
        FIRST + timedelta(days=14, hours=-1),
    ]
    assert [[c.conference_number for c in p.conflicts] for p in preview] == [
        [],
        [blocker.number],
        [],
    ]
    assert await db.scalar(select(func.count(Conference.id))) == before
