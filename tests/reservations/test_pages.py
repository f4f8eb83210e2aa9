"""The scheduler and operator pages, driven like a browser: session cookie, forms, CSRF."""

import re
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import func, select

from bridgedesk.auth import actor_of
from bridgedesk.clock import utcnow
from bridgedesk.identity import Role
from reservations.models import Conference, ConferenceStatus, Customer
from tests.conftest import SignIn
from tests.reservations.browsing import (
    NEW_YORK,
    booking_form,
    csrf_of,
    local_day,
    new_york_scheduler,
)


@pytest.mark.parametrize(
    "path", ["/day", "/conferences/new", "/conferences/mine", "/confirmations", "/conferences/1"]
)
async def test_signed_out_pages_redirect_to_login(anonymous: httpx.AsyncClient, path: str) -> None:
    response = await anonymous.get(path)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")


async def test_a_post_without_csrf_token_is_refused(
    db: Any, sign_in: SignIn, make_user: Any, make_site: Any, make_customer: Any
) -> None:
    site, page = await new_york_scheduler(make_customer, make_site, make_user, sign_in)

    response = await page.post(
        "/conferences/new", data=booking_form([site.id], local_day(3), "09:00", "10:00")
    )

    assert response.status_code == 403
    assert await db.scalar(select(func.count(Conference.id))) == 0
    wrong = await page.post(
        "/conferences/new",
        data=booking_form([site.id], local_day(3), "09:00", "10:00", csrf_token="forged"),
    )
    assert wrong.status_code == 403


async def test_booking_through_the_form_creates_the_conference_in_the_customer_zone(
    db: Any, sign_in: SignIn, make_user: Any, make_site: Any, make_customer: Any
) -> None:
    site, page = await new_york_scheduler(
        make_customer, make_site, make_user, sign_in, name="Boardroom"
    )
    form = await page.get("/conferences/new")
    assert form.status_code == 200
    assert "Boardroom" in form.text
    day = local_day(5)

    response = await page.post(
        "/conferences/new",
        data=booking_form([site.id], day, "09:00", "10:30", csrf_token=csrf_of(form)),
    )

    assert response.status_code == 303, response.text
    conference = await db.scalar(select(Conference))
    assert response.headers["location"] == f"/conferences/{conference.id}"
    nine_in_new_york = datetime.combine(datetime.fromisoformat(day).date(), time(9), NEW_YORK)
    assert conference.starts_at == nine_in_new_york.astimezone(UTC)
    assert conference.ends_at - conference.starts_at == timedelta(minutes=90)
    assert (conference.title, conference.project_code) == ("Quarterly review", "PRJ-7")
    assert [hold.site_id for hold in conference.sites] == [site.id]

    detail = await page.get(response.headers["location"])
    assert detail.status_code == 200
    assert conference.number in detail.text
    assert "Confirmation due" in detail.text
    assert f"{day} 09:00 E" in detail.text  # EST or EDT, shown in the customer's zone


async def test_a_conflicting_booking_is_refused_with_409_naming_the_conflict(
    db: Any,
    sign_in: SignIn,
    make_user: Any,
    make_site: Any,
    new_york: Customer,
    make_conference: Any,
) -> None:
    taken = await make_site(customer=new_york, name="Taken Room")
    free = await make_site(customer=new_york, name="Free Room")
    day = local_day(4)
    start = datetime.combine(datetime.fromisoformat(day).date(), time(14), NEW_YORK)
    existing = await make_conference(sites=[taken], start=start, end=start + timedelta(hours=1))
    page = await sign_in(await make_user(Role.SCHEDULER, customer_id=new_york.id))
    form = await page.get("/conferences/new")
    entered = booking_form([free.id, taken.id], day, "14:30", "15:30", csrf_token=csrf_of(form))

    preview = await page.get("/conferences/conflicts", params=entered)
    assert preview.status_code == 200
    assert "Taken Room" in preview.text and existing.number in preview.text
    assert "Free Room" not in preview.text

    refused = await page.post("/conferences/new", data=entered)

    assert refused.status_code == 409
    assert "Taken Room" in refused.text
    assert existing.number in refused.text
    assert f"{day} 14:00 E" in refused.text and f"{day} 15:00 E" in refused.text
    assert 'value="Quarterly review"' in refused.text  # what the user typed is kept
    assert re.search(rf'value="{free.id}"[^>]*checked', refused.text)
    assert await db.scalar(select(func.count(Conference.id))) == 1


async def test_an_invalid_booking_comes_back_with_the_reason(
    db: Any, sign_in: SignIn, make_user: Any, make_site: Any
) -> None:
    site = await make_site()
    page = await sign_in(await make_user(Role.SCHEDULER, customer_id=site.customer_id))
    form = await page.get("/conferences/new")
    yesterday = local_day(-1, ZoneInfo("UTC"))

    refused = await page.post(
        "/conferences/new",
        data=booking_form([site.id], yesterday, "09:00", "10:00", csrf_token=csrf_of(form)),
    )

    assert refused.status_code == 422
    assert "past" in refused.text
    assert await db.scalar(select(func.count(Conference.id))) == 0


async def test_another_customers_scheduler_cannot_see_the_conference(
    sign_in: SignIn, make_user: Any, make_conference: Any
) -> None:
    conference = await make_conference()
    outsider = await sign_in(await make_user(Role.SCHEDULER))

    page = await outsider.get(f"/conferences/{conference.id}")

    assert page.status_code == 404
    assert conference.number not in page.text
    form = await outsider.get("/conferences/new")
    cancel = await outsider.post(
        f"/conferences/{conference.id}/cancel", data={"csrf_token": csrf_of(form)}
    )
    assert cancel.status_code == 404


async def test_day_view_shows_the_booking_in_its_hours(
    sign_in: SignIn, make_user: Any, make_site: Any, new_york: Customer, make_conference: Any
) -> None:
    site = await make_site(customer=new_york, name="Grid Room")
    day = local_day(2)
    start = datetime.combine(datetime.fromisoformat(day).date(), time(10), NEW_YORK)
    conference = await make_conference(sites=[site], start=start, end=start + timedelta(hours=2))
    page = await sign_in(await make_user(Role.SCHEDULER, customer_id=new_york.id))

    grid = await page.get("/day", params={"date": day})

    assert grid.status_code == 200
    row = re.search(rf'<tr data-site-id="{site.id}">(.*?)</tr>', grid.text, re.S)
    assert row and "Grid Room" in row.group(1)
    busy = re.search(r'<td class="busy" colspan="(\d+)" data-hour="(\d+)">', row.group(1))
    assert busy and busy.groups() == ("2", "10")
    assert conference.number in row.group(1)
    assert row.group(1).count('class="free"') == 22


async def test_my_conferences_and_the_operators_queue(
    db: Any, sign_in: SignIn, make_user: Any, make_site: Any, make_conference: Any
) -> None:
    site = await make_site()
    scheduler = await make_user(Role.SCHEDULER, customer_id=site.customer_id)
    late = await make_conference(sites=[site], by=actor_of(scheduler))
    late.confirmation_due = utcnow() - timedelta(minutes=5)
    await db.flush()
    mine = await (await sign_in(scheduler)).get("/conferences/mine")
    assert mine.status_code == 200
    assert late.number in mine.text and "overdue" in mine.text

    operator = await sign_in(await make_user(Role.OPERATOR))
    queue = await operator.get("/confirmations")
    assert queue.status_code == 200
    assert re.search(rf'<tr class="overdue" data-conference="{late.number}">', queue.text)
    confirmed = await operator.post(
        f"/conferences/{late.id}/confirm",
        data={"csrf_token": csrf_of(queue), "return_to": "/confirmations"},
    )
    assert confirmed.status_code == 303
    assert confirmed.headers["location"] == "/confirmations"
    await db.refresh(late)
    assert late.status == ConferenceStatus.CONFIRMED
    assert late.number not in (await operator.get("/confirmations")).text


@pytest.mark.parametrize("role", [Role.SCHEDULER, Role.TECHNICIAN, Role.FINANCE])
async def test_only_operators_see_the_confirmation_queue(
    sign_in: SignIn, make_user: Any, role: Role
) -> None:
    page = await sign_in(await make_user(role))
    assert (await page.get("/confirmations")).status_code == 403


async def test_a_time_the_clocks_skip_is_refused(
    db: Any, sign_in: SignIn, make_user: Any, make_site: Any, make_customer: Any
) -> None:
    site, page = await new_york_scheduler(make_customer, make_site, make_user, sign_in)
    today = utcnow().astimezone(NEW_YORK).date()
    spring_forward = next(
        day
        for day in (today + timedelta(days=n) for n in range(2, 400))
        if datetime.combine(day, time(1), NEW_YORK).utcoffset()
        != datetime.combine(day, time(4), NEW_YORK).utcoffset()
        and datetime.combine(day, time(1), NEW_YORK).month == 3
    )
    form = await page.get("/conferences/new")

    refused = await page.post(
        "/conferences/new",
        data=booking_form(
            [site.id], spring_forward.isoformat(), "02:30", "03:30", csrf_token=csrf_of(form)
        ),
    )

    assert refused.status_code == 422
    assert "does not exist in America/New_York" in refused.text
    assert await db.scalar(select(func.count(Conference.id))) == 0


async def test_an_operator_books_for_a_chosen_customer_then_cancels(
    db: Any, sign_in: SignIn, make_user: Any, make_site: Any
) -> None:
    site = await make_site(name="Staff Room")
    page = await sign_in(await make_user(Role.OPERATOR))
    picker = await page.get("/conferences/new")
    assert picker.status_code == 200 and "Continue" in picker.text
    form = await page.get("/conferences/new", params={"customer_id": site.customer_id})
    assert "Staff Room" in form.text

    booked = await page.post(
        "/conferences/new",
        data=booking_form(
            [site.id],
            local_day(3),
            "08:00",
            "09:00",
            customer_id=str(site.customer_id),
            csrf_token=csrf_of(form),
        ),
    )
    assert booked.status_code == 303, booked.text
    detail = await page.get(booked.headers["location"])
    assert "Confirm" in detail.text and "Cancel conference" in detail.text

    cancelled = await page.post(
        booked.headers["location"] + "/cancel", data={"csrf_token": csrf_of(detail)}
    )

    assert cancelled.status_code == 303
    conference = await db.scalar(select(Conference))
    await db.refresh(conference)
    assert conference.status == ConferenceStatus.CANCELLED
    assert "Cancel conference" not in (await page.get(booked.headers["location"])).text


@pytest.mark.parametrize(
    "field, value",
    [
        ("title", ""),
        ("title", "x" * 201),
        ("leader_name", "Nul\x00Byte"),
        ("project_code", "p" * 61),
    ],
)
async def test_the_text_fields_are_checked_before_the_database(
    db: Any, sign_in: SignIn, make_user: Any, make_site: Any, field: str, value: str
) -> None:
    site = await make_site()
    page = await sign_in(await make_user(Role.SCHEDULER, customer_id=site.customer_id))
    form = await page.get("/conferences/new")
    entered = booking_form([site.id], local_day(3), "09:00", "10:00", csrf_token=csrf_of(form))

    refused = await page.post("/conferences/new", data={**entered, field: value})

    assert refused.status_code == 422
    assert await db.scalar(select(func.count(Conference.id))) == 0


@pytest.mark.parametrize(
    "path, status",
    [
        ("/day?date=9999-12-31", 422),
        ("/day?date=yesterday", 422),
        ("/day?customer_id=12345678901234", 422),
        ("/conferences/99999999999999", 404),
        ("/conferences/new?start=noon", 422),
        ("/conferences/conflicts?date=9999-12-31&start=23:00&end=23:30&site_id=1", 200),
    ],
)
async def test_bad_input_is_refused_not_a_server_error(
    sign_in: SignIn, make_user: Any, path: str, status: int
) -> None:
    page = await sign_in(await make_user(Role.SCHEDULER))
    assert (await page.get(path)).status_code == status


async def test_the_preview_says_what_is_missing_and_reveals_nothing_of_other_customers(
    sign_in: SignIn, make_user: Any, make_site: Any, make_conference: Any
) -> None:
    theirs = await make_site(name="Their Room")
    start = datetime.combine(utcnow().date() + timedelta(days=2), time(10), UTC)
    await make_conference(sites=[theirs], start=start, end=start + timedelta(hours=1))
    page = await sign_in(await make_user(Role.SCHEDULER))

    incomplete = await page.get("/conferences/conflicts", params={"start": "10:00"})
    assert "Enter the meeting date" in incomplete.text
    probe = await page.get(
        "/conferences/conflicts",
        params={
            "date": start.date().isoformat(),
            "start": "10:00",
            "end": "10:30",
            "site_id": str(theirs.id),
        },
    )
    assert probe.status_code == 200
    # The same answer booking would give, and not a word about the other customer's booking.
    assert "do not exist or belong to another customer" in probe.text
    assert "Their Room" not in probe.text and "C-" not in probe.text
