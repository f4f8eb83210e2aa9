"""The monitoring dashboard and status page in a real Chromium against the real server with
the demo loaded: the charts carry the figures (checked against numbers computed here from
the demo's intervals and against the API), each with its target line."""

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, expect

from monitoring.demo import DEMO_FORCE_MAJEURE, DEMO_OUTAGE
from monitoring.service.uptime import month_span
from tests.e2e.browsing import DEMO_PASSWORD, api_as, browser_marks, demo_server, sign_in
from tests.server_process import RunningServer

OPERATOR = "operator@bridgedesk.example"

pytestmark = browser_marks()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    with demo_server(tmp_path) as running:
        yield running


def _last_month() -> tuple[str, Decimal]:
    """Last month's name and the bridge's availability the demo implies, computed by hand:
    the month's minutes less the force majeure, and 40 minutes of probed outage."""
    now = datetime.now(UTC)
    year, month = (now.year - 1, 12) if now.month == 1 else (now.year, now.month - 1)
    span = month_span(year, month, ZoneInfo("UTC"))
    minutes = Decimal(int(span.length.total_seconds()) // 60)
    eligible = minutes - Decimal(int(DEMO_FORCE_MAJEURE[1].total_seconds()) // 60)
    down = Decimal(int(DEMO_OUTAGE[1].total_seconds()) // 60)
    share = ((eligible - down) * 100 / eligible).quantize(Decimal("0.001"), ROUND_HALF_UP)
    return f"{year:04d}-{month:02d}", share


def _api_figure(server: RunningServer, month: str) -> float:
    with api_as(server.base_url, OPERATOR, DEMO_PASSWORD) as client:
        report = client.get("/api/v1/uptime", params={"month": month, "component": "bridge"}).json()
    return float(report["availability_pct"])


def test_the_dashboard_shows_the_months_figures_against_their_targets(
    server: RunningServer, browser: Browser
) -> None:
    month, expected = _last_month()
    page = browser.new_page(base_url=server.base_url, viewport={"width": 1300, "height": 900})
    sign_in(page, OPERATOR)
    page.get_by_role("link", name="Dashboard").click()
    expect(page.get_by_role("heading", name="Service commitments")).to_be_visible()

    chart = page.locator('svg[data-chart="availability-bridge"]')
    expect(chart).to_be_visible()
    bar = chart.locator(f'rect.bar[data-label="{month}"]')
    value = bar.get_attribute("data-value")
    assert value is not None and Decimal(value) == expected
    assert float(value) == _api_figure(server, month)
    expect(bar.locator("title")).to_have_text(f"{month}: {value} %")
    # The bar is drawn to scale: taller than a 98 % bar would be, shorter than the plot.
    box = bar.bounding_box()
    assert box is not None and box["height"] > 0
    target = chart.locator("line.target")
    assert target.get_attribute("data-value") == "99"
    # Met months are drawn in the "met" colour; the figure is above the 99 % line.
    assert bar.get_attribute("fill") == ("#2e86c1" if expected >= 99 else "#c0392b")
    target_y = float(target.get_attribute("y1") or 0)
    assert float(bar.get_attribute("y") or 0) < target_y  # above the line (SVG y grows down)

    reservations = page.locator('svg[data-chart="availability-reservations"]')
    assert (
        reservations.locator(f'rect.bar[data-label="{month}"]').get_attribute("data-value") == "100"
    )
    # Demo tickets: SL4 resolved, SL3 answered, SL1 not yet answered: 0 / 1 / 1 open.
    tickets = page.locator('svg[data-chart="tickets"] rect.bar')
    values = {t.get_attribute("data-label"): t.get_attribute("data-value") for t in tickets.all()}
    assert values == {"SL1": "1", "SL2": "0", "SL3": "1", "SL4": "0"}
    for chart_id in ("failures", "on-time", "confirmations", "certification", "breaches"):
        expect(page.locator(f'svg[data-chart="{chart_id}"] line.target')).to_have_count(1)
    row = page.locator(f'[data-testid="availability-bridge"] tr[data-month="{month}"]')
    expect(row).to_contain_text(f"{expected} %")
    expect(row).to_contain_text("met")


def test_the_status_page_is_public(server: RunningServer, browser: Browser) -> None:
    page = browser.new_page(base_url=server.base_url)
    page.goto("/status")
    expect(page.get_by_role("heading", name="Service status")).to_be_visible()
    expect(page.locator('[data-testid="upcoming-maintenance"]')).to_contain_text(
        "Bridge firmware 9.2"
    )
    expect(page.locator('tr[data-component="reservations"]')).to_have_count(1)


def test_a_customer_recomputes_last_month_from_the_availability_page(
    server: RunningServer, browser: Browser
) -> None:
    month, expected = _last_month()
    page = browser.new_page(base_url=server.base_url, viewport={"width": 1300, "height": 900})
    sign_in(page, "scheduler@acme.example")
    page.get_by_role("link", name="Availability").click()
    page.get_by_role("link", name=f"← {month}").click()
    bridge = page.locator('[data-testid="uptime-bridge"]')
    expect(bridge.get_by_role("heading")).to_contain_text(f"{expected} %")
    expect(bridge.locator('[data-testid="downtime"]')).to_have_text("40.00")
    expect(bridge.locator('tr[data-kind="force_majeure"]')).to_contain_text("excluded")
    expect(bridge.locator('tr[data-kind="force_majeure"]')).to_contain_text(
        "Regional power failure"
    )
    told = page.locator('[data-testid="uptime-reservations"] tr[data-kind="maintenance"]')
    expect(told).to_contain_text("excluded")
    expect(told).not_to_contain_text("too late")
