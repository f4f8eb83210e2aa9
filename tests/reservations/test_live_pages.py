"""Conferences now, from the pages: ad hoc starts, extensions, added sites, error pages' menu."""

import re
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from bridgedesk.clock import utcnow
from bridgedesk.identity import Role
from reservations.models import Conference, Customer, SiteHold
from tests.conftest import SignIn
from tests.reservations.browsing import csrf_of


def adhoc_form(site_ids: list[int], **extra: str) -> Any:
    return {
        "title": "Outage call",
        "leader_name": "Ada Leader",
        "minutes": "45",
        "site_id": [str(i) for i in site_ids],
        **extra,
    }


async def test_ad_hoc_from_the_day_view_goes_ahead_without_a_busy_site(
    db: Any,
    sign_in: SignIn,
    make_user: Any,
    make_site: Any,
    new_york: Customer,
    make_conference: Any,
) -> None:
    free = await make_site(customer=new_york, name="Free Room", certification_state="certified")
    busy = await make_site(customer=new_york, name="Busy Room")
    soon = utcnow() + timedelta(minutes=10)
    holder = await make_conference(sites=[busy], start=soon, end=soon + timedelta(hours=1))
    page = await sign_in(await make_user(Role.SCHEDULER, customer_id=new_york.id))
    day = await page.get("/day")
    assert "Ad hoc conference now" in day.text and 'data-testid="adhoc-form"' in day.text

    started = await page.post(
        "/conferences/adhoc",
        data=adhoc_form([free.id, busy.id], csrf_token=csrf_of(day)),
    )

    assert started.status_code == 303, started.text
    conference = await db.scalar(select(Conference).where(Conference.adhoc.is_(True)))
    assert conference is not None
    assert started.headers["location"].startswith(f"/conferences/{conference.id}?left_out=")
    assert conference.ends_at - conference.starts_at == timedelta(minutes=45)
    shown = await page.get(started.headers["location"])
    assert shown.status_code == 200
    left_out = re.search(r'data-testid="left-out">(.*?)</div>', shown.text, re.S)
    assert left_out and "Busy Room" in left_out.group(1) and holder.number in left_out.group(1)
    ready = re.search(r'data-testid="ready-by">([^<]+)<', shown.text)
    assert ready and ready.group(1).endswith(("EST", "EDT"))
    assert 'data-testid="overflow"' not in shown.text
    # The same page without the query shows no left-out sites: nothing to invent from a URL.
    assert 'data-testid="left-out"' not in (await page.get(f"/conferences/{conference.id}")).text


async def test_ad_hoc_beyond_every_port_shows_the_overflow_warning(
    db: Any, sign_in: SignIn, make_user: Any, make_site: Any, make_bridge: Any
) -> None:
    await make_bridge(ports=1, adhoc_reserve=1)
    site = await make_site(name="Room A")
    other = await make_site(customer_id=site.customer_id, name="Room B")
    page = await sign_in(await make_user(Role.SCHEDULER, customer_id=site.customer_id))
    mine = await page.get("/conferences/mine")
    assert 'data-testid="adhoc-form"' in mine.text

    started = await page.post(
        "/conferences/adhoc", data=adhoc_form([site.id, other.id], csrf_token=csrf_of(mine))
    )

    assert started.status_code == 303, started.text
    shown = await page.get(started.headers["location"])
    assert 'data-testid="overflow"' in shown.text and "operators have been alerted" in shown.text


async def test_staff_choose_the_customer_before_an_ad_hoc_start(
    db: Any, sign_in: SignIn, make_user: Any, make_site: Any
) -> None:
    site = await make_site(name="Staff Pick")
    page = await sign_in(await make_user(Role.OPERATOR))
    mine = await page.get("/conferences/mine")
    assert 'data-testid="adhoc-customer"' in mine.text and "Staff Pick" not in mine.text
    form = await page.get("/conferences/adhoc", params={"customer_id": site.customer_id})
    assert "Staff Pick" in form.text

    refused = await page.post(
        "/conferences/adhoc",
        data=adhoc_form(
            [], customer_id=str(site.customer_id), title="Kept", csrf_token=csrf_of(form)
        ),
    )
    started = await page.post(
        "/conferences/adhoc",
        data=adhoc_form([site.id], customer_id=str(site.customer_id), csrf_token=csrf_of(form)),
    )

    assert refused.status_code == 422
    assert "at least one site" in refused.text and 'value="Kept"' in refused.text
    assert started.status_code == 303, started.text
    assert re.fullmatch(r"/conferences/\d+", started.headers["location"])


async def test_billing_is_offered_no_ad_hoc_start_and_may_not_post_one(
    db: Any, sign_in: SignIn, make_user: Any, make_site: Any
) -> None:
    site = await make_site()
    page = await sign_in(await make_user(Role.BILLING, customer_id=site.customer_id))
    mine = await page.get("/conferences/mine")
    assert mine.status_code == 200 and "Ad hoc conference now" not in mine.text

    refused = await page.post(
        "/conferences/adhoc", data=adhoc_form([site.id], csrf_token=csrf_of(mine))
    )

    assert refused.status_code == 403
    assert "Sign out" in refused.text  # the error page keeps the navigation bar
    assert await db.scalar(select(Conference.id)) is None


async def test_extending_lists_the_later_bookings_it_runs_into(
    db: Any, sign_in: SignIn, make_user: Any, make_site: Any, make_conference: Any
) -> None:
    site = await make_site(name="Shared Room")
    start = utcnow() + timedelta(hours=3)
    running = await make_conference(sites=[site], start=start, end=start + timedelta(hours=1))
    later = await make_conference(
        sites=[site], start=start + timedelta(hours=1), end=start + timedelta(hours=2)
    )
    page = await sign_in(await make_user(Role.OPERATOR))
    detail = await page.get(f"/conferences/{running.id}")
    assert 'data-testid="extend-form"' in detail.text

    extended = await page.post(
        f"/conferences/{running.id}/extend", data={"minutes": "30", "csrf_token": csrf_of(detail)}
    )

    assert extended.status_code == 200
    assert "Extended by 30 min" in extended.text
    overruns = re.search(r'data-testid="overruns">(.*?)</div>', extended.text, re.S)
    assert overruns and later.number in overruns.group(1) and "Shared Room" in overruns.group(1)
    await db.refresh(running)
    assert running.ends_at == start + timedelta(minutes=90)
    bad = await page.post(
        f"/conferences/{running.id}/extend", data={"minutes": "0", "csrf_token": csrf_of(detail)}
    )
    assert bad.status_code == 422 and 'data-testid="refusal"' in bad.text


async def test_adding_a_free_site_and_refusing_a_busy_one(
    db: Any, sign_in: SignIn, make_user: Any, make_site: Any, make_conference: Any
) -> None:
    site = await make_site(name="First Room")
    free = await make_site(customer_id=site.customer_id, name="Free Room")
    busy = await make_site(customer_id=site.customer_id, name="Busy Room")
    start = utcnow() + timedelta(days=1)
    conference = await make_conference(sites=[site], start=start, end=start + timedelta(hours=1))
    holder = await make_conference(
        sites=[busy], start=start + timedelta(minutes=30), end=start + timedelta(hours=2)
    )
    page = await sign_in(await make_user(Role.SCHEDULER, customer_id=site.customer_id))
    detail = await page.get(f"/conferences/{conference.id}")
    add_form = re.search(r'data-testid="add-site-form">(.*?)</form>', detail.text, re.S)
    assert add_form and "Free Room" in add_form.group(1) and "First Room" not in add_form.group(1)

    added = await page.post(
        f"/conferences/{conference.id}/sites",
        data={"site_id": str(free.id), "csrf_token": csrf_of(detail)},
    )
    refused = await page.post(
        f"/conferences/{conference.id}/sites",
        data={"site_id": str(busy.id), "csrf_token": csrf_of(detail)},
    )

    assert (added.status_code, added.headers["location"]) == (303, f"/conferences/{conference.id}")
    assert refused.status_code == 409
    shown = re.search(r'data-testid="refusal">(.*?)</div>', refused.text, re.S)
    assert shown and "Busy Room" in shown.group(1) and holder.number in shown.group(1)
    held = await db.scalars(select(SiteHold.site_id).where(SiteHold.conference_id == conference.id))
    assert sorted(held) == sorted([site.id, free.id])


async def test_error_pages_keep_the_navigation_bar(sign_in: SignIn, make_user: Any) -> None:
    page = await sign_in(await make_user(Role.SCHEDULER))

    missing = await page.get("/conferences/99999999")
    bad_date = await page.get("/day", params={"date": "tomorrow"})

    for response, status in ((missing, 404), (bad_date, 422)):
        assert response.status_code == status
        assert 'href="/conferences/mine"' in response.text and "Sign out" in response.text
