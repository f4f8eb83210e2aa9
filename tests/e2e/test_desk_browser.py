"""The help desk in a real Chromium against the real server with the demo loaded: last
month's share of calls answered within 60 s on the dashboard against its 80 % line, the help
desk's numbers on the public status page, and a customer agreeing to a best-effort charge."""

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.browsing import DEMO_PASSWORD, api_as, browser_marks, demo_server, sign_in
from tests.server_process import RunningServer

pytestmark = browser_marks()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    with demo_server(tmp_path) as running:
        yield running


def _last_month() -> str:
    now = datetime.now(UTC)
    year, month = (now.year - 1, 12) if now.month == 1 else (now.year, now.month - 1)
    return f"{year:04d}-{month:02d}"


def _api_figures(server: RunningServer, month: str) -> dict[str, Any]:
    with api_as(server.base_url, "operator@bridgedesk.example", DEMO_PASSWORD) as client:
        answer = client.get("/api/v1/desk/figures", params={"month": month})
    assert answer.status_code == 200, answer.text
    figures: dict[str, Any] = answer.json()
    return figures


def test_the_desk_figures_the_help_desk_numbers_and_a_consent(
    server: RunningServer, browser: Browser
) -> None:
    month = _last_month()
    page = browser.new_page(base_url=server.base_url, viewport={"width": 1300, "height": 900})
    # The demo's 20 calls last month, 16 answered within 60 s (80 %), plus the demo's SL4
    # phone ticket of three days ago when that falls in last month (17 of 21).
    figures = _api_figures(server, month)
    assert (figures["phone_offered"], figures["phone_answered_within_60s"]) in ((20, 16), (21, 17))
    share = Decimal(figures["phone_share"]) * 100
    sign_in(page, "operator@bridgedesk.example")
    page.get_by_role("link", name="Dashboard").click()
    chart = page.locator('svg[data-chart="desk-phone"]')
    expect(chart).to_be_visible()
    drawn = chart.locator(f'rect.bar[data-label="{month}"]').get_attribute("data-value")
    assert drawn is not None and Decimal(drawn) == share
    assert chart.locator("line.target").get_attribute("data-value") == "80"
    row = page.locator(f'[data-testid="desk-figures"] tr[data-month="{month}"]')
    expect(row).to_contain_text("% (met)")
    expect(row.locator("td").nth(1)).to_have_text(str(figures["phone_offered"]))

    status = browser.new_page(base_url=server.base_url)
    status.goto("/status")
    expect(status.locator('[data-testid="helpdesk-contact"]')).to_contain_text("+1 800 555 0100")

    customer = browser.new_page(base_url=server.base_url, viewport={"width": 1300, "height": 900})
    sign_in(customer, "scheduler@acme.example")
    customer.goto("/tickets/new")
    customer.get_by_label("Summary").fill("How do I share slides?")
    customer.get_by_label("Description").fill("Training question from a new assistant.")
    customer.get_by_label("Caller's name").fill("Robin New")
    customer.get_by_role("button", name="Open").click()
    support = customer.locator('[data-testid="support"]')
    expect(support).to_contain_text("best effort")
    expect(customer.locator('[data-testid="helpdesk-contact"]')).to_contain_text("Help desk")
    customer.get_by_role("button", name="Agree to the charge for work past 10 minutes").click()
    expect(support).to_contain_text("charge agreed")
    expect(customer.locator('[data-testid="consent"]')).to_have_count(0)
