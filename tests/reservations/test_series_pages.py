"""Booking a series from the form: the rule it builds, the live preview, refusals, its page."""

import re
from datetime import date, datetime, time, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import func, select

from bridgedesk.clock import utcnow
from bridgedesk.errors import InvalidInput
from bridgedesk.identity import Role
from reservations.models import Conference, ConferenceStatus, Customer, Site
from reservations.pages.repeats import RepeatForm, describe_rule
from tests.conftest import Factory, SignIn
from tests.reservations.browsing import NEW_YORK, booking_form, csrf_of, new_york_scheduler

MONDAY = date(2027, 3, 1)


@pytest.mark.parametrize(
    "fields, first_day, rule",
    [
        ({"frequency": "daily", "count": "5"}, MONDAY, "FREQ=DAILY;COUNT=5"),
        ({"frequency": "weekly", "count": "4"}, MONDAY, "FREQ=WEEKLY;BYDAY=MO;COUNT=4"),
        (
            {"frequency": "weekly", "weekdays": ["MO", "WE", "FR"], "ends": "until"}
            | {"until": "2027-03-31"},
            MONDAY,
            "FREQ=WEEKLY;BYDAY=MO,WE,FR;UNTIL=20270331",
        ),
        ({"frequency": "monthly", "count": "6"}, MONDAY, "FREQ=MONTHLY;BYMONTHDAY=1;COUNT=6"),
        (
            {"frequency": "monthly", "monthly_by": "weekday", "count": "3"},
            date(2027, 3, 9),  # the second Tuesday
            "FREQ=MONTHLY;BYDAY=2TU;COUNT=3",
        ),
        (
            {"frequency": "monthly", "monthly_by": "last", "count": "3"},
            date(2027, 3, 26),  # the last Friday
            "FREQ=MONTHLY;BYDAY=-1FR;COUNT=3",
        ),
    ],
)
def test_the_repeats_fields_build_the_rule(
    fields: dict[str, Any], first_day: date, rule: str
) -> None:
    assert RepeatForm(**fields).rule(first_day) == rule


@pytest.mark.parametrize(
    "fields, first_day, problem",
    [
        ({"frequency": "weekly", "weekdays": ["TU"], "count": "4"}, MONDAY, "tick Monday too"),
        (
            {"frequency": "monthly", "monthly_by": "last", "count": "2"},
            date(2027, 3, 19),
            "not the last Friday",
        ),
        ({"frequency": "daily", "count": ""}, MONDAY, "number of meetings"),
        ({"frequency": "daily", "count": "9" * 40}, MONDAY, "number of meetings"),
        ({"frequency": "daily", "ends": "until", "until": "2027-02-01"}, MONDAY, "before its"),
        ({"frequency": "hourly", "count": "2"}, MONDAY, "daily, weekly or monthly"),
    ],
)
def test_a_repeats_section_that_makes_no_rule_says_why(
    fields: dict[str, Any], first_day: date, problem: str
) -> None:
    with pytest.raises(InvalidInput, match=problem):
        RepeatForm(**fields).rule(first_day)


@pytest.mark.parametrize(
    "rule, words",
    [
        ("FREQ=WEEKLY;BYDAY=MO;COUNT=4", "Weekly on Monday, 4 times"),
        (
            "FREQ=WEEKLY;BYDAY=MO,WE,FR;UNTIL=20270401T035959Z",
            "Weekly on Monday, Wednesday and Friday, until 2027-03-31",
        ),
        ("FREQ=MONTHLY;BYDAY=-1FR;COUNT=1", "Monthly on the last Friday, once"),
        ("FREQ=MONTHLY;BYMONTHDAY=15;COUNT=3", "Monthly on day 15, 3 times"),
        ("FREQ=DAILY;INTERVAL=2;UNTIL=20270310", "Every 2 days, until 2027-03-10"),
        ("nonsense", "nonsense"),
    ],
)
def test_rules_in_words(rule: str, words: str) -> None:
    assert describe_rule(rule, ZoneInfo("America/New_York")) == words


def mondays_ahead(weeks: int = 2, zone: ZoneInfo = NEW_YORK) -> date:
    """A Monday at least `weeks` weeks away, so that every meeting lies in the future."""
    today = utcnow().astimezone(zone).date()
    return today + timedelta(days=7 * weeks + (7 - today.weekday()) % 7)


def series_form(site_ids: list[int], first: date, **extra: Any) -> Any:
    weekly = {"repeat": "weekly", "weekday": "MO", "ends": "count", "count": "4"}
    return booking_form(site_ids, first.isoformat(), "09:00", "10:00", **weekly | extra)


async def _book_a_weekly_series(page: httpx.AsyncClient, site_id: int) -> httpx.Response:
    """Book four Mondays from the form, as the scheduler would; the redirect it answers."""
    form = await page.get("/conferences/new")
    return await page.post(
        "/conferences/new", data=series_form([site_id], mondays_ahead(), csrf_token=csrf_of(form))
    )


class BlockedMonday(NamedTuple):
    """A New York scheduler signed in, its Boardroom, and a conference holding the Boardroom
    on the second of four Mondays from `first`."""

    site: Site
    blocker: Conference
    page: httpx.AsyncClient
    first: date


@pytest.fixture
async def blocked_monday(
    new_york: Customer,
    make_site: Factory,
    make_user: Factory,
    make_conference: Factory,
    sign_in: SignIn,
) -> BlockedMonday:
    site = await make_site(customer=new_york, name="Boardroom")
    first = mondays_ahead()
    second = datetime.combine(first + timedelta(days=7), time(9, 30), NEW_YORK)
    blocker = await make_conference(sites=[site], start=second, end=second + timedelta(hours=1))
    page = await sign_in(await make_user(Role.SCHEDULER, customer_id=new_york.id))
    return BlockedMonday(site, blocker, page, first)


async def test_the_preview_lists_every_date_and_marks_the_taken_one(
    db: Any, blocked_monday: BlockedMonday
) -> None:
    site, blocker, page, first = blocked_monday

    preview = await page.get("/conferences/series-preview", params=series_form([site.id], first))

    assert preview.status_code == 200
    assert "Weekly on Monday, 4 times" in preview.text
    rows = re.findall(
        r'<tr class="(free|taken)" data-occurrence="(\d)">(.*?)</tr>', preview.text, re.S
    )
    assert [(state, number) for state, number, _ in rows] == [
        ("free", "1"),
        ("taken", "2"),
        ("free", "3"),
        ("free", "4"),
    ]
    assert blocker.number in rows[1][2] and "Boardroom" in rows[1][2]
    for week, (_, _, cells) in enumerate(rows):
        assert f"{first + timedelta(days=7 * week)} 09:00 E" in cells  # in the customer's zone
    assert "will not be booked" in preview.text
    skipping = await page.get(
        "/conferences/series-preview",
        params=series_form([site.id], first, skip_conflicts="1"),
    )
    assert "taken dates will be skipped" in skipping.text
    assert await db.scalar(select(func.count(Conference.id))) == 1


async def test_the_preview_says_what_is_missing(
    sign_in: SignIn, make_user: Any, make_site: Any
) -> None:
    site = await make_site()
    page = await sign_in(await make_user(Role.SCHEDULER, customer_id=site.customer_id))
    first = mondays_ahead()

    no_sites = await page.get("/conferences/series-preview", params=series_form([], first))
    wrong_day = await page.get(
        "/conferences/series-preview", params=series_form([site.id], first, weekday="TU")
    )
    too_many = await page.get(
        "/conferences/series-preview", params=series_form([site.id], first, count="5000")
    )

    assert "Choose one or more sites" in no_sites.text
    assert "tick Monday too" in wrong_day.text
    assert "at most 2 years" in too_many.text
    assert {r.status_code for r in (no_sites, wrong_day, too_many)} == {200}


async def test_a_series_with_a_taken_date_is_refused_whole_and_the_form_kept(
    db: Any, blocked_monday: BlockedMonday
) -> None:
    site, blocker, page, first = blocked_monday
    form = await page.get("/conferences/new")

    refused = await page.post(
        "/conferences/new", data=series_form([site.id], first, csrf_token=csrf_of(form))
    )

    assert refused.status_code == 409
    taken = re.search(r'data-testid="taken-dates">(.*?)</table>', refused.text, re.S)
    assert taken, refused.text
    assert f"{first + timedelta(days=7):%a %Y-%m-%d} 09:00 E" in taken.group(1)
    assert blocker.number in taken.group(1) and "Boardroom" in taken.group(1)
    assert '<option value="weekly" selected>' in refused.text
    assert re.search(r'value="MO"\s+checked', refused.text)
    assert 'name="count" value="4"' in refused.text
    assert await db.scalar(select(func.count(Conference.id))) == 1


async def test_skipping_taken_dates_books_the_rest_and_the_series_page_names_the_skipped(
    db: Any, blocked_monday: BlockedMonday
) -> None:
    site, blocker, page, first = blocked_monday
    form = await page.get("/conferences/new")

    booked = await page.post(
        "/conferences/new",
        data=series_form([site.id], first, skip_conflicts="1", csrf_token=csrf_of(form)),
    )

    assert booked.status_code == 303, booked.text
    assert re.fullmatch(r"/series/\d+\?skipped=.+", booked.headers["location"])
    series_page = await page.get(booked.headers["location"])
    assert series_page.status_code == 200
    assert "Weekly on Monday, 4 times" in series_page.text
    skipped = re.search(r'data-testid="skipped">(.*?)</div>', series_page.text, re.S)
    assert skipped and f"{first + timedelta(days=7):%a %Y-%m-%d} 09:00 E" in skipped.group(1)
    members = re.findall(r'data-conference="(C-[\d-]+)"', series_page.text)
    assert len(members) == 3 and blocker.number not in members
    assert await db.scalar(select(func.count(Conference.id))) == 4


async def test_the_series_page_cancels_one_meeting_or_it_and_the_following(
    db: Any, sign_in: SignIn, make_user: Any, make_site: Any, make_customer: Any
) -> None:
    site, page = await new_york_scheduler(make_customer, make_site, make_user, sign_in)
    booked = await _book_a_weekly_series(page, site.id)
    assert booked.status_code == 303, booked.text
    series_url = booked.headers["location"]
    shown = await page.get(series_url)
    members = (await db.scalars(select(Conference).order_by(Conference.starts_at))).all()
    assert [m.number for m in members] == re.findall(r'data-conference="(C-[\d-]+)"', shown.text)
    assert shown.text.count("Cancel this and following</button>") == 4
    detail = await page.get(f"/conferences/{members[1].id}")
    assert f'href="{series_url}"' in detail.text and "meeting 2 of a series" in detail.text

    one = await page.post(
        f"/conferences/{members[0].id}/cancel",
        data={"csrf_token": csrf_of(shown), "return_to": series_url, "scope": "this"},
    )
    following = await page.post(
        f"/conferences/{members[2].id}/cancel",
        data={"csrf_token": csrf_of(shown), "return_to": series_url, "scope": "following"},
    )

    assert (one.status_code, one.headers["location"]) == (303, series_url)
    assert (following.status_code, following.headers["location"]) == (303, series_url)
    for member in members:
        await db.refresh(member)
    assert [m.status for m in members] == [
        ConferenceStatus.CANCELLED,
        ConferenceStatus.REQUESTED,
        ConferenceStatus.CANCELLED,
        ConferenceStatus.CANCELLED,
    ]
    after = await page.get(series_url)
    assert after.text.count("Cancel this and following</button>") == 1


async def test_another_customers_series_is_not_found(
    db: Any, sign_in: SignIn, make_user: Any, make_site: Any, make_customer: Any
) -> None:
    site, page = await new_york_scheduler(make_customer, make_site, make_user, sign_in)
    booked = await _book_a_weekly_series(page, site.id)
    outsider = await sign_in(await make_user(Role.SCHEDULER))

    assert (await outsider.get(booked.headers["location"])).status_code == 404
    assert (await outsider.get("/series/99999999999")).status_code == 404
    nonsense = await page.get(booked.headers["location"] + "?skipped=yesterday&skipped=2027")
    assert nonsense.status_code == 200 and 'data-testid="skipped"' not in nonsense.text
