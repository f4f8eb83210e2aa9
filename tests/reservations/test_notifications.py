"""Notification emails over real SMTP, with their .ics invitations."""

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


def exdates(event) -> list[datetime]:
    """EXDATE values whether the event has one EXDATE line or several."""
    lines = event["EXDATE"] if isinstance(event["EXDATE"], list) else [event["EXDATE"]]
    return [value.dt for line in lines for value in line.dts]


def events_of(ics: bytes) -> list:
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


def series_payload(customer_id, site_ids, first, rule="FREQ=WEEKLY;BYDAY=MO;COUNT=4"):
    return series_body(customer_id, site_ids, first, rule, leader_name="L")


# Monday 1 March 2027, 09:00 in New York: the first meeting of the weekly series below.
FIRST_MONDAY = datetime(2027, 3, 1, 14, 0, tzinfo=UTC)


async def book_weekly(api, customer, site, rule="FREQ=WEEKLY;BYDAY=MO;COUNT=4") -> dict:
    """A weekly series from FIRST_MONDAY at the site, booked through the API: its answer."""
    body = series_payload(customer.id, [site.id], FIRST_MONDAY, rule)
    return (await api.post("/api/v1/conferences", json=body)).json()


def _invites(smtp_server) -> list:
    """The single VEVENT of every confirmation email's .ics, in the order they were sent."""
    return [
        event
        for _, message in smtp_server.mailbox.with_subject("Confirmed")
        for attachment in message.iter_attachments()
        for event in events_of(attachment.get_content())
    ]


async def test_each_meetings_invitation_names_its_occurrence_so_they_add_up(
    db, make_customer, make_site, client_as, smtp_server, frozen_time
):
    customer = await make_customer(timezone="America/New_York")
    site = await make_site(customer=customer)
    api = await client_as(Role.SCHEDULER, customer_id=customer.id)
    body = await book_weekly(api, customer, site)
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
    first = FIRST_MONDAY
    body = await book_weekly(api, customer, site)
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
    events = events_of(attachment.get_content())
    [master] = [e for e in events if "RRULE" in e]
    assert master.decoded("DTSTART") == first
    assert master["RRULE"]["COUNT"] == [4]
    assert exdates(master) == [datetime.fromisoformat(body["occurrences"][1]["start"])]
    assert str(master["STATUS"]) == "CONFIRMED"
    assert {str(e["UID"]) for e in events} == {f"series-{series.id}@bridgedesk"}


async def test_a_series_confirmed_automatically_sends_one_email_for_all_its_meetings(
    db, make_customer, make_site, make_user, client_as, smtp_server
):
    customer = await make_customer(timezone="America/New_York")
    site = await make_site(customer=customer, certification_state="certified")
    api = await client_as(await make_user(Role.SCHEDULER, customer_id=customer.id))
    first = FIRST_MONDAY
    body = await book_weekly(api, customer, site)
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
    events = events_of(attachment.get_content())
    [master] = [e for e in events if "RRULE" in e]
    assert master.decoded("DTSTART") == first
    overrides = sorted(e.decoded("DTSTART") for e in events if "RECURRENCE-ID" in e)
    assert overrides == [
        datetime.fromisoformat(o["start"]) + timedelta(hours=2) for o in body["occurrences"][1:]
    ]
