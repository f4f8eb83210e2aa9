"""What every browser test shares: Debian's Chromium (never a downloaded one), the marks, a
server with the demo loaded, and signing in (in the page or for the API)."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page

from tests.server_process import RunningServer, run_cli, running_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
# The password `bridgedesk demo` gives every demo user.
DEMO_PASSWORD = "demo-password"


def sign_in(page: Page, email: str, password: str = DEMO_PASSWORD) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def browser_marks(*extra: pytest.MarkDecorator) -> list[pytest.MarkDecorator]:
    """A browser test's `pytestmark`: it needs a server, and is skipped without Chromium."""
    return [
        pytest.mark.browser,
        pytest.mark.server,
        *extra,
        pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium"),
    ]


@contextmanager
def demo_server(folder: Path) -> Iterator[RunningServer]:
    """The real server on a SQLite database in `folder` loaded by `bridgedesk demo`."""
    database_url = f"sqlite:///{folder / 'bridgedesk.db'}"
    run_cli(database_url, "demo")
    with running_server(database_url, folder) as running:
        yield running


@contextmanager
def api_as(base_url: str, email: str, password: str) -> Iterator[httpx.Client]:
    """An API client carrying the bearer token of `email`."""
    with httpx.Client(base_url=base_url, timeout=10) as api:
        token = api.post("/api/v1/auth/token", json={"email": email, "password": password})
        api.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        yield api


def book_through_api(
    api: httpx.Client,
    *,
    customer: dict[str, Any],
    sites: list[dict[str, Any]],
    title: str,
    start: datetime,
) -> tuple[dict[str, Any], list[int]]:
    """A customer, its rooms (UTC, 768 kbit/s, billed in the US zone unless `sites` say
    otherwise) and a 30-minute conference of them all from `start`, booked through the API;
    the conference as the API answers it, and the sites' ids in order."""
    customer_id = api.post("/api/v1/customers", json={"timezone": "UTC", **customer}).json()["id"]
    site_ids = []
    for fields in sites:
        room = {"kind": "room", "timezone": "UTC", "max_speed_kbps": 768, "billing_zone": "US"}
        site = api.post("/api/v1/sites", json={"customer_id": customer_id, **room, **fields})
        assert site.status_code == 201, site.text
        site_ids.append(int(site.json()["id"]))
    booked = api.post(
        "/api/v1/conferences",
        json={
            "customer_id": customer_id,
            "title": title,
            "leader_name": "Lee",
            "start": start.isoformat(),
            "end": (start + timedelta(minutes=30)).isoformat(),
            "sites": [{"site_id": i} for i in site_ids],
        },
    )
    assert booked.status_code == 201, booked.text
    conference: dict[str, Any] = booked.json()
    return conference, site_ids
