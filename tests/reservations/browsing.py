"""Driving the pages like a browser does: the signed-in client type, CSRF tokens, form fields."""

import re
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from bridgedesk.clock import utcnow
from bridgedesk.identity import Role

NEW_YORK = ZoneInfo("America/New_York")


def csrf_of(page: httpx.Response) -> str:
    """The page's CSRF token: from a form, or else from the layout's meta tag."""
    found = re.search(r'name="csrf[_-]token" (?:value|content)="([^"]+)"', page.text)
    assert found, "the page has no CSRF field"
    return found.group(1)


def booking_form(site_ids: list[int], day: str, start: str, end: str, **extra: Any) -> Any:
    return {
        "title": "Quarterly review",
        "leader_name": "Lee Leader",
        "project_code": "PRJ-7",
        "date": day,
        "start": start,
        "end": end,
        "site_id": [str(i) for i in site_ids],
        **extra,
    }


def local_day(days_ahead: int, zone: ZoneInfo = NEW_YORK) -> str:
    return (utcnow().astimezone(zone).date() + timedelta(days=days_ahead)).isoformat()


async def new_york_scheduler(
    make_customer: Any, make_site: Any, make_user: Any, sign_in: Any, **site_fields: Any
) -> tuple[Any, httpx.AsyncClient]:
    """A New York customer's site, and that customer's scheduler signed in to the pages."""
    customer = await make_customer(timezone="America/New_York")
    site = await make_site(customer=customer, **site_fields)
    page = await sign_in(await make_user(Role.SCHEDULER, customer_id=customer.id))
    return site, page
