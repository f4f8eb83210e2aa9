"""iCalendar feeds per customer and per site: valid documents in the right zones, series as
RRULE with their exceptions, and the feed key that reads them."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from icalendar import Calendar

from bridgedesk.identity import Role
from tests.payloads import conference_body
from tests.reservations.test_notifications import (
    FIRST_MONDAY,
    NOW,
    book_weekly,
    events_of,
    exdates,
)


@pytest.fixture(autouse=True)
def frozen_time():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


async def test_site_feed_is_valid_icalendar_with_the_right_times(
    db, make_customer, make_site, client_as
):
    customer = await make_customer(timezone="America/New_York")
    site = await make_site(customer=customer, timezone="Pacific/Pago_Pago")
    api = await client_as(Role.SCHEDULER, customer_id=customer.id)
    starts = [NOW + timedelta(days=d, hours=h) for d, h in ((1, 0), (2, 3))]
    numbers = []
    for s in starts:
        numbers.append(
            (
                await api.post(
                    "/api/v1/conferences",
                    json=conference_body(
                        customer.id, [site.id], s, minutes=45, title="Feed", leader_name="L"
                    ),
                )
            ).json()["number"]
        )
    response = await api.get(f"/api/v1/sites/{site.id}/calendar.ics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")
    calendar = Calendar.from_ical(response.content)
    assert calendar["VERSION"] == "2.0"
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["Pacific/Pago_Pago"]
    events = sorted(calendar.walk("VEVENT"), key=lambda e: e.decoded("DTSTART"))
    assert [e.decoded("DTSTART") for e in events] == starts
    assert [e.decoded("DTEND") - e.decoded("DTSTART") for e in events] == [
        timedelta(minutes=45)
    ] * 2
    assert [str(e["UID"]) for e in events] == [f"{n}@bridgedesk" for n in numbers]
    assert {str(e["STATUS"]) for e in events} == {"TENTATIVE"}
    # Another customer's scheduler gets nothing.
    outsider = await client_as(Role.SCHEDULER)
    assert (await outsider.get(f"/api/v1/sites/{site.id}/calendar.ics")).status_code == 404


async def test_customer_feed_publishes_a_series_as_rrule_with_exceptions(
    db, make_customer, make_site, client_as
):
    customer = await make_customer(timezone="America/New_York")
    site = await make_site(customer=customer)
    api = await client_as(Role.SCHEDULER, customer_id=customer.id)
    first = FIRST_MONDAY
    body = await book_weekly(api, customer, site)
    occurrences = body["occurrences"]
    await api.post(f"/api/v1/conferences/{occurrences[1]['id']}/cancel")
    moved_start = datetime.fromisoformat(occurrences[2]["start"]) + timedelta(hours=2)
    await api.patch(
        f"/api/v1/conferences/{occurrences[2]['id']}",
        json={
            "start": moved_start.isoformat(),
            "end": (moved_start + timedelta(hours=1)).isoformat(),
        },
    )
    events = events_of((await api.get(f"/api/v1/customers/{customer.id}/calendar.ics")).content)
    [master] = [e for e in events if "RRULE" in e]
    assert master["RRULE"]["FREQ"] == ["WEEKLY"] and master["RRULE"]["COUNT"] == [4]
    assert master.decoded("DTSTART") == first
    assert master.decoded("DTSTART").tzinfo.key == "America/New_York"
    assert exdates(master) == [datetime.fromisoformat(occurrences[1]["start"])]
    [override] = [e for e in events if "RECURRENCE-ID" in e]
    assert override.decoded("RECURRENCE-ID") == datetime.fromisoformat(occurrences[2]["start"])
    assert override.decoded("DTSTART") == moved_start
    assert str(override["UID"]) == str(master["UID"])


async def test_a_feed_key_reads_calendars_without_a_header_and_nothing_else(
    db, make_site, client_as, anonymous
):
    site = await make_site()
    api = await client_as(Role.SCHEDULER, customer_id=site.customer_id)
    issued = await api.post("/api/v1/auth/feed-key")
    assert issued.status_code == 201
    key = issued.json()["key"]
    assert datetime.fromisoformat(issued.json()["expires_at"]) == NOW + timedelta(days=365)

    feed = await anonymous.get(f"/api/v1/sites/{site.id}/calendar.ics", params={"key": key})
    assert feed.status_code == 200
    assert Calendar.from_ical(feed.content)["VERSION"] == "2.0"
    customer_feed = await anonymous.get(
        f"/api/v1/customers/{site.customer_id}/calendar.ics", params={"key": key}
    )
    assert customer_feed.status_code == 200
    # The key is not a bearer token and opens no other route.
    assert (await anonymous.get(f"/api/v1/sites/{site.id}", params={"key": key})).status_code == 401
    bearer = {"Authorization": f"Bearer {key}"}
    assert (await anonymous.get("/api/v1/users/me", headers=bearer)).status_code == 401
    wrong = await anonymous.get(f"/api/v1/sites/{site.id}/calendar.ics", params={"key": "nope"})
    assert wrong.status_code == 401
    # Tenancy still holds: another customer's site is not readable with this key.
    other = await make_site()
    foreign = await anonymous.get(f"/api/v1/sites/{other.id}/calendar.ics", params={"key": key})
    assert foreign.status_code == 404


async def test_a_feed_does_not_exclude_the_meetings_older_than_its_history(
    db, make_customer, make_site, client_as, frozen_time
):
    customer = await make_customer(timezone="America/New_York")
    site = await make_site(customer=customer)
    api = await client_as(Role.SCHEDULER, customer_id=customer.id)
    first = FIRST_MONDAY
    body = await book_weekly(api, customer, site, "FREQ=WEEKLY;BYDAY=MO;COUNT=30")
    cancelled = body["occurrences"][1]
    await api.post(f"/api/v1/conferences/{cancelled['id']}/cancel")
    # Half a year later the first meetings lie beyond the feed's 90 days of history.
    frozen_time.move_to(first + timedelta(days=180))
    api = await client_as(api.user)  # a token of today's
    for url in (
        f"/api/v1/customers/{customer.id}/calendar.ics",
        f"/api/v1/sites/{site.id}/calendar.ics",
    ):
        events = events_of((await api.get(url)).content)
        [master] = [e for e in events if "RRULE" in e]
        assert exdates(master) == [datetime.fromisoformat(cancelled["start"])], url


async def test_a_site_feed_publishes_a_series_in_the_zone_its_rule_is_kept_in(
    db, make_customer, make_site, client_as
):
    customer = await make_customer(timezone="America/New_York")
    site = await make_site(customer=customer, timezone="Pacific/Pago_Pago")
    api = await client_as(Role.SCHEDULER, customer_id=customer.id)
    body = await book_weekly(api, customer, site)
    await api.post(f"/api/v1/conferences/{body['occurrences'][3]['id']}/cancel")
    calendar = Calendar.from_ical((await api.get(f"/api/v1/sites/{site.id}/calendar.ics")).content)
    [master] = calendar.walk("VEVENT")
    # Pago Pago keeps no DST: a rule in its time would put the meetings after March 14 an
    # hour late, and the EXDATE would match none of them.
    assert master.decoded("DTSTART").tzinfo.key == "America/New_York"
    assert exdates(master) == [datetime(2027, 3, 22, 13, 0, tzinfo=UTC)]
    assert {tz["TZID"] for tz in calendar.walk("VTIMEZONE")} == {"America/New_York"}


async def test_a_series_stored_with_a_rule_now_refused_is_listed_meeting_by_meeting(
    db, make_customer, make_site, client_as
):
    from reservations.models import Series

    customer = await make_customer(timezone="America/New_York")
    site = await make_site(customer=customer)
    api = await client_as(Role.SCHEDULER, customer_id=customer.id)
    body = await book_weekly(api, customer, site)
    (await db.get(Series, body["series_id"])).rrule = "FREQ=DAILY;INTERVAL=0;COUNT=4"
    await db.flush()
    response = await api.get(f"/api/v1/customers/{customer.id}/calendar.ics")
    assert response.status_code == 200
    events = events_of(response.content)
    assert len(events) == 4 and not [e for e in events if "RRULE" in e]
