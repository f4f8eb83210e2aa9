"""Driving the pages like a browser does: the signed-in client type, CSRF tokens, form fields."""

import re
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from bridgedesk.clock import utcnow

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
