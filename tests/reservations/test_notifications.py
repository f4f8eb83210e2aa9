"""Notification emails over real SMTP (with their .ics invitations) and iCalendar feeds."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from icalendar import Calendar

from bridgedesk.app.jobs import send_outbox_job
from bridgedesk.identity import Role
from tests.payloads import conference_body, series_body

NOW = datetime(2027, 2, 20, 12, 0, tzinfo=UTC)
KIRITIMATI = ZoneInfo("Pacific/Kiritimati")


@pytest.fixture(autouse=True)
def frozen_time():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def _exdates(event) -> list[datetime]:
    """EXDATE values whether the event has one EXDATE line or several."""
    lines = event["EXDATE"] if isinstance(event["EXDATE"], list) else [event["EXDATE"]]
    return [value.dt for line in lines for value in line.dts]


def _events(ics: bytes) -> list:
    calendar = Calendar.from_ical(ics)
    return [c for c in calendar.walk("VEVENT")]


async def test_confirmation_email_reaches_the_requester_with_an_ics_invitation(
    db,
    make_customer,
    make_site,
    make_user,
    client_as,
    smtp_server,
):
    customer = await make_customer(timezone="Pacific/Kiritimati")
    site = await make_site(customer=customer, name="Harbour office", timezone="Pacific/Kiritimati")
    scheduler = await make_user(Role.SCHEDULER, customer_id=customer.id)
    api = await client_as(scheduler)
    start = NOW + timedelta(days=3)
    booked = (
        await api.post(
            "/api/v1/conferences",
            json=conference_body(
                customer.id, [site.id], start, minutes=120, title="Harbour plan", leader_name="Tei"
            ),
        )
    ).json()
    operator = await client_as(Role.OPERATOR)
    confirmed = await operator.post(f"/api/v1/conferences/{booked['id']}/confirm")
    assert confirmed.status_code == 200

    assert await send_outbox_job() == 2  # "received" on booking, then the confirmation
    [(recipients, message)] = smtp_server.mailbox.with_subject("Confirmed")
    assert recipients == [scheduler.email]
    assert booked["number"] in message["Subject"]
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content_type() == "text/calendar"
    assert attachment.get_filename() == f"{booked['number']}.ics"
    calendar = Calendar.from_ical(attachment.get_content())
    assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == ["Pacific/Kiritimati"]
    [event] = calendar.walk("VEVENT")
    assert event.decoded("DTSTART") == start.astimezone(KIRITIMATI)
    assert event.decoded("DTSTART").tzinfo.key == "Pacific/Kiritimati"
    assert event.decoded("DTEND") == start + timedelta(hours=2)
    assert booked["number"] in str(event["SUMMARY"])
    assert str(event["STATUS"]) == "CONFIRMED"
    assert str(event["LOCATION"]) == "Harbour office"
    # Delivered once: running the sender again sends nothing more.
    assert await send_outbox_job() == 0


async def test_overrun_notice_is_delivered_to_both_schedulers_and_operators(
    db,
    make_customer,
    make_site,
    make_user,
    client_as,
    smtp_server,
):
    customer = await make_customer()
    site = await make_site(customer=customer)
    first, second = [await make_user(Role.SCHEDULER, customer_id=customer.id) for _ in "ab"]
    start = NOW + timedelta(hours=5)
    ids = []
    for offset, who in ((0, first), (1, second)):
        api = await client_as(who)
        s = start + timedelta(hours=offset)
        ids.append(
            (
                await api.post(
                    "/api/v1/conferences",
                    json=conference_body(
                        customer.id, [site.id], s, title=f"M{offset}", leader_name="L"
                    ),
                )
            ).json()["id"]
        )
    operator = await client_as(Role.OPERATOR)
    await operator.post(f"/api/v1/conferences/{ids[0]}/extend", json={"minutes": 15})
    await send_outbox_job()
    [(recipients, message)] = smtp_server.mailbox.with_subject("Overrun")
    assert sorted(recipients) == sorted([first.email, second.email, "operators@localhost"])
    assert "Neither meeting is cut" in message.get_content()


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
    first = datetime(2027, 3, 1, 14, 0, tzinfo=UTC)
    body = (
        await api.post(
            "/api/v1/conferences",
            json=_series_payload(customer.id, [site.id], first),
        )
    ).json()
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
    events = _events((await api.get(f"/api/v1/customers/{customer.id}/calendar.ics")).content)
    [master] = [e for e in events if "RRULE" in e]
    assert master["RRULE"]["FREQ"] == ["WEEKLY"] and master["RRULE"]["COUNT"] == [4]
    assert master.decoded("DTSTART") == first
    assert master.decoded("DTSTART").tzinfo.key == "America/New_York"
    assert _exdates(master) == [datetime.fromisoformat(occurrences[1]["start"])]
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


def _series_payload(customer_id, site_ids, first, rule="FREQ=WEEKLY;BYDAY=MO;COUNT=4"):
    return series_body(customer_id, site_ids, first, rule, leader_name="L")


def _invites(smtp_server) -> list:
    """The single VEVENT of every confirmation email's .ics, in the order they were sent."""
    return [
        event
        for _, message in smtp_server.mailbox.with_subject("Confirmed")
        for attachment in message.iter_attachments()
        for event in _events(attachment.get_content())
    ]


async def test_each_meetings_invitation_names_its_occurrence_so_they_add_up(
    db, make_customer, make_site, client_as, smtp_server, frozen_time
):
    customer = await make_customer(timezone="America/New_York")
    site = await make_site(customer=customer)
    api = await client_as(Role.SCHEDULER, customer_id=customer.id)
    first = datetime(2027, 3, 1, 14, 0, tzinfo=UTC)
    body = (
        await api.post("/api/v1/conferences", json=_series_payload(customer.id, [site.id], first))
    ).json()
    second, third = body["occurrences"][1:3]
    moved_start = datetime.fromisoformat(third["start"]) + timedelta(hours=2)
    await api.patch(
        f"/api/v1/conferences/{third['id']}",
        json={
            "start": moved_start.isoformat(),
            "end": (moved_start + timedelta(hours=1)).isoformat(),
        },
    )
    confirmed_at = NOW + timedelta(hours=1)
    frozen_time.move_to(confirmed_at)
    operator = await client_as(Role.OPERATOR)
    for occurrence in (second, third):
        response = await operator.post(f"/api/v1/conferences/{occurrence['id']}/confirm")
        assert response.status_code == 200
    await send_outbox_job()

    plain, moved = _invites(smtp_server)
    # One series, two meetings of it: the same UID, told apart by their original starts, so
    # the second invitation does not replace the first in the invitee's calendar.
    assert str(plain["UID"]) == str(moved["UID"]) == f"series-{body['series_id']}@bridgedesk"
    assert plain.decoded("RECURRENCE-ID") == datetime.fromisoformat(second["start"])
    assert moved.decoded("RECURRENCE-ID") == datetime.fromisoformat(third["start"])
    assert moved.decoded("DTSTART") == moved_start
    assert plain.decoded("DTSTAMP") == moved.decoded("DTSTAMP") == confirmed_at
    assert moved.decoded("SEQUENCE") > plain.decoded("SEQUENCE") > 0


async def test_the_series_confirmation_sends_the_whole_series_in_one_email(
    db, make_customer, make_site, make_user, client_as, smtp_server
):
    from sqlalchemy import select

    from reservations.models import Conference, Series
    from reservations.service import notifications

    customer = await make_customer(timezone="America/New_York")
    site = await make_site(customer=customer, name="Boardroom")
    scheduler = await make_user(Role.SCHEDULER, customer_id=customer.id)
    api = await client_as(scheduler)
    first = datetime(2027, 3, 1, 14, 0, tzinfo=UTC)
    body = (
        await api.post("/api/v1/conferences", json=_series_payload(customer.id, [site.id], first))
    ).json()
    await api.post(f"/api/v1/conferences/{body['occurrences'][1]['id']}/cancel")
    series = await db.get(Series, body["series_id"])
    members = (await db.scalars(select(Conference).where(Conference.series_id == series.id))).all()

    confirmed = [m for m in members if m.status == "requested"]
    for member in confirmed:  # as confirmation marks them
        member.status, member.confirmed_at, member.confirmed_by = "confirmed", NOW, "automatic"

    await notifications.series_confirmed(db, series, confirmed)
    await send_outbox_job()

    [(recipients, message)] = smtp_server.mailbox.with_subject("Confirmed")
    assert recipients == [scheduler.email]
    text = message.get_body().get_content()
    assert [o["number"] in text for o in body["occurrences"]] == [True, False, True, True]
    assert "2027-03-15 09:00 EDT" in text and "Confirmed by: automatic" in text
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == f"series-{series.id}.ics"
    events = _events(attachment.get_content())
    [master] = [e for e in events if "RRULE" in e]
    assert master.decoded("DTSTART") == first
    assert master["RRULE"]["COUNT"] == [4]
    assert _exdates(master) == [datetime.fromisoformat(body["occurrences"][1]["start"])]
    assert str(master["STATUS"]) == "CONFIRMED"
    assert {str(e["UID"]) for e in events} == {f"series-{series.id}@bridgedesk"}


async def test_a_feed_does_not_exclude_the_meetings_older_than_its_history(
    db, make_customer, make_site, client_as, frozen_time
):
    customer = await make_customer(timezone="America/New_York")
    site = await make_site(customer=customer)
    api = await client_as(Role.SCHEDULER, customer_id=customer.id)
    first = datetime(2027, 3, 1, 14, 0, tzinfo=UTC)
    body = (
        await api.post(
            "/api/v1/conferences",
            json=_series_payload(customer.id, [site.id], first, "FREQ=WEEKLY;BYDAY=MO;COUNT=30"),
        )
    ).json()
    cancelled = body["occurrences"][1]
    await api.post(f"/api/v1/conferences/{cancelled['id']}/cancel")
    # Half a year later the first meetings lie beyond the feed's 90 days of history.
    frozen_time.move_to(first + timedelta(days=180))
    api = await client_as(api.user)  # a token of today's
    for url in (
        f"/api/v1/customers/{customer.id}/calendar.ics",
        f"/api/v1/sites/{site.id}/calendar.ics",
    ):
        events = _events((await api.get(url)).content)
        [master] = [e for e in events if "RRULE" in e]
        assert _exdates(master) == [datetime.fromisoformat(cancelled["start"])], url


async def test_a_site_feed_publishes_a_series_in_the_zone_its_rule_is_kept_in(
    db, make_customer, make_site, client_as
):
    customer = await make_customer(timezone="America/New_York")
    site = await make_site(customer=customer, timezone="Pacific/Pago_Pago")
    api = await client_as(Role.SCHEDULER, customer_id=customer.id)
    first = datetime(2027, 3, 1, 14, 0, tzinfo=UTC)
    body = (
        await api.post("/api/v1/conferences", json=_series_payload(customer.id, [site.id], first))
    ).json()
    await api.post(f"/api/v1/conferences/{body['occurrences'][3]['id']}/cancel")
    calendar = Calendar.from_ical((await api.get(f"/api/v1/sites/{site.id}/calendar.ics")).content)
    [master] = calendar.walk("VEVENT")
    # Pago Pago keeps no DST: a rule in its time would put the meetings after March 14 an
    # hour late, and the EXDATE would match none of them.
    assert master.decoded("DTSTART").tzinfo.key == "America/New_York"
    assert _exdates(master) == [datetime(2027, 3, 22, 13, 0, tzinfo=UTC)]
    assert {tz["TZID"] for tz in calendar.walk("VTIMEZONE")} == {"America/New_York"}


async def test_a_series_confirmed_automatically_sends_one_email_for_all_its_meetings(
    db, make_customer, make_site, make_user, client_as, smtp_server
):
    customer = await make_customer(timezone="America/New_York")
    site = await make_site(customer=customer, certification_state="certified")
    api = await client_as(await make_user(Role.SCHEDULER, customer_id=customer.id))
    first = datetime(2027, 3, 1, 14, 0, tzinfo=UTC)
    body = (
        await api.post("/api/v1/conferences", json=_series_payload(customer.id, [site.id], first))
    ).json()
    assert {o["status"] for o in body["occurrences"]} == {"confirmed"}
    moved_start = first + timedelta(days=7, hours=2)
    moved = await api.patch(
        f"/api/v1/conferences/{body['occurrences'][1]['id']}",
        json={
            "start": moved_start.isoformat(),
            "end": (moved_start + timedelta(hours=1)).isoformat(),
            "scope": "following",
        },
    )
    assert moved.status_code == 200, moved.text
    await send_outbox_job()

    # One email on booking and one for the three meetings moved together, each with the series.
    booked, rebooked = smtp_server.mailbox.with_subject("Confirmed")
    assert "4 meetings" in str(booked[1]["Subject"])
    assert "3 meetings" in str(rebooked[1]["Subject"])
    [attachment] = list(rebooked[1].iter_attachments())
    events = _events(attachment.get_content())
    [master] = [e for e in events if "RRULE" in e]
    assert master.decoded("DTSTART") == first
    overrides = sorted(e.decoded("DTSTART") for e in events if "RECURRENCE-ID" in e)
    assert overrides == [
        datetime.fromisoformat(o["start"]) + timedelta(hours=2) for o in body["occurrences"][1:]
    ]


async def test_a_series_stored_with_a_rule_now_refused_is_listed_meeting_by_meeting(
    db, make_customer, make_site, client_as
):
    from reservations.models import Series

    customer = await make_customer(timezone="America/New_York")
    site = await make_site(customer=customer)
    api = await client_as(Role.SCHEDULER, customer_id=customer.id)
    first = datetime(2027, 3, 1, 14, 0, tzinfo=UTC)
    body = (
        await api.post("/api/v1/conferences", json=_series_payload(customer.id, [site.id], first))
    ).json()
    (await db.get(Series, body["series_id"])).rrule = "FREQ=DAILY;INTERVAL=0;COUNT=4"
    await db.flush()
    response = await api.get(f"/api/v1/customers/{customer.id}/calendar.ics")
    assert response.status_code == 200
    events = _events(response.content)
    assert len(events) == 4 and not [e for e in events if "RRULE" in e]
