"""Recurring series through the API: all-or-nothing, skip_conflicts, deadlines, previews."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from bridgedesk.identity import Role
from reservations.models import Conference
from tests.payloads import conference_body, series_body

NOW = datetime(2027, 2, 20, 12, 0, tzinfo=UTC)
FIRST = datetime(2027, 3, 1, 14, 0, tzinfo=UTC)  # Monday 09:00 in New York


@pytest.fixture(autouse=True)
def frozen_time(request):
    """Booked on NOW unless a test says otherwise; tokens are issued inside the frozen time."""
    moment = getattr(request, "param", NOW)
    with time_machine.travel(moment, tick=False) as traveller:
        yield traveller


def weekly(customer_id, site_ids, start=FIRST, rule="FREQ=WEEKLY;BYDAY=MO;COUNT=4", **extra):
    return series_body(customer_id, site_ids, start, rule, title="Weekly review", **extra)


async def booker(make_customer, make_site, client_as):
    customer = await make_customer(timezone="America/New_York")
    site = await make_site(customer=customer, name="Boardroom")
    api = await client_as(Role.SCHEDULER, customer_id=customer.id)
    return customer, site, api


async def test_series_books_every_occurrence_with_the_series_deadlines(
    db, make_customer, make_site, client_as
):
    customer, site, api = await booker(make_customer, make_site, client_as)
    response = await api.post("/api/v1/conferences", json=weekly(customer.id, [site.id]))
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
    customer, site, api = await booker(make_customer, make_site, client_as)
    response = await api.post(
        "/api/v1/conferences",
        json=weekly(customer.id, [site.id], rule="FREQ=DAILY;COUNT=3"),
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
    customer, site, api = await booker(make_customer, make_site, client_as)
    third = datetime(2027, 3, 15, 13, 0, tzinfo=UTC)
    blocker = await api.post(
        "/api/v1/conferences",
        json=conference_body(
            customer.id,
            [site.id],
            third + timedelta(minutes=30),
            minutes=90,
            title="Blocker",
            leader_name="Bo",
        ),
    )
    assert blocker.status_code == 201
    before = await db.scalar(select(func.count(Conference.id)))
    refused = await api.post("/api/v1/conferences", json=weekly(customer.id, [site.id]))
    assert refused.status_code == 409
    body = refused.json()
    assert "2027-03-15 13:00" in body["detail"]
    assert [s["start"] for s in body["skipped"]] == [third.isoformat()]
    assert body["conflicts"][0]["conference_number"] == blocker.json()["number"]
    assert await db.scalar(select(func.count(Conference.id))) == before

    skipping = await api.post(
        "/api/v1/conferences",
        json=weekly(customer.id, [site.id], skip_conflicts=True),
    )
    assert skipping.status_code == 201, skipping.text
    body = skipping.json()
    assert len(body["occurrences"]) == 3
    assert [s["index"] for s in body["skipped"]] == [2]
    assert body["skipped"][0]["conflicts"][0]["conference_number"] == blocker.json()["number"]


async def test_bad_rules_are_422_and_book_nothing(db, make_customer, make_site, client_as):
    customer, site, api = await booker(make_customer, make_site, client_as)
    for rule in (
        "FREQ=HOURLY;COUNT=2",
        "FREQ=DAILY",
        "FREQ=DAILY;COUNT=900",
        "FREQ=DAILY;INTERVAL=0;COUNT=3",
        "FREQ=DAILY;INTERVAL=-1;COUNT=3",  # was a 500: dateutil raised while expanding
        "FREQ=MONTHLY;BYDAY=9MO;COUNT=2",  # likewise (an IndexError)
    ):
        response = await api.post(
            "/api/v1/conferences", json=weekly(customer.id, [site.id], rule=rule)
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


async def test_a_daily_24_hour_meeting_across_the_dst_change_is_refused(
    db, make_customer, make_site, client_as
):
    customer, site, api = await booker(make_customer, make_site, client_as)
    saturday = datetime(2027, 3, 13, 14, 0, tzinfo=UTC)  # 09:00 EST; the clocks jump overnight
    payload = weekly(customer.id, [site.id], start=saturday, rule="FREQ=DAILY;COUNT=3")
    payload["end"] = (saturday + timedelta(hours=24)).isoformat()
    response = await api.post("/api/v1/conferences", json=payload)
    assert response.status_code == 422
    assert "overlap each other" in response.json()["detail"]
    assert await db.scalar(select(func.count(Conference.id))) == 0


async def test_a_start_with_microseconds_books_the_series(db, make_customer, make_site, client_as):
    customer, site, api = await booker(make_customer, make_site, client_as)
    start = FIRST.replace(microsecond=123_456)
    response = await api.post("/api/v1/conferences", json=weekly(customer.id, [site.id], start))
    assert response.status_code == 201, response.text
    assert datetime.fromisoformat(response.json()["occurrences"][0]["start"]) == start
