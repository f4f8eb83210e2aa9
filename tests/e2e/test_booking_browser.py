"""A scheduler books in a real Chromium against the real server: a meeting that meets a conflict,
a weekly series previewed date by date, and an ad hoc conference started from the day view."""

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.browsing import browser_marks, demo_server
from tests.e2e.browsing import sign_in as sign_in_as
from tests.server_process import RunningServer

# From `bridgedesk demo`: Acme's scheduler and one of Acme's sites, which the demo books only
# 3 and 8 days ahead; the test books 12 days ahead.
SCHEDULER = "scheduler@acme.example"
SITE = "Denver Lab"
ACME_ZONE = ZoneInfo("America/New_York")

pytestmark = browser_marks()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    with demo_server(tmp_path) as running:
        yield running


def sign_in(page: Page) -> None:
    sign_in_as(page, SCHEDULER)
    expect(page.get_by_role("heading", name="My conferences")).to_be_visible()


def fill_booking(page: Page, title: str, day: str, start: str, end: str) -> None:
    page.get_by_label("Title").fill(title)
    page.get_by_label("Leader name").fill("Dana Leader")
    page.get_by_label("Date", exact=True).fill(day)
    page.get_by_label("Start time").fill(start)
    page.get_by_label("End time").fill(end)
    page.get_by_role("checkbox", name=SITE).check()


def test_scheduler_books_and_sees_conflicts_before_and_after_submitting(
    server: RunningServer, browser: Browser, tmp_path: Path
) -> None:
    page = browser.new_page(base_url=server.base_url, viewport={"width": 1300, "height": 900})
    day = (datetime.now(UTC).astimezone(ACME_ZONE).date() + timedelta(days=12)).isoformat()

    sign_in(page)

    page.get_by_role("link", name="Book", exact=True).click()
    fill_booking(page, "Robot review", day, "10:00", "11:00")
    preview = page.get_by_test_id("conflicts-preview")
    expect(preview).to_contain_text("All chosen sites are free")
    page.get_by_role("button", name="Book conference").click()

    expect(page).to_have_url(re.compile(r"/conferences/\d+$"))
    number = page.get_by_test_id("conference-number").inner_text()
    assert re.fullmatch(r"C-\d{4}-\d{6}", number)
    expect(page.get_by_test_id("status")).to_have_text("requested")
    expect(page.get_by_test_id("starts")).to_contain_text(f"{day} 10:00 E")
    # Booked 12 days ahead: confirmation is due within 8 h of booking, shown in Acme's zone.
    expect(page.get_by_test_id("confirmation-due")).to_contain_text(re.compile(r"\d{2}:\d{2} E"))
    page.screenshot(path=tmp_path / "1-booked.png", full_page=True)

    page.get_by_role("link", name="My conferences").click()
    row = page.locator(f"tr[data-conference='{number}']")
    expect(row).to_contain_text("Robot review")
    expect(row).to_contain_text("requested")
    page.screenshot(path=tmp_path / "2-mine.png", full_page=True)

    page.goto(f"/day?date={day}")
    expect(page.get_by_test_id("day-grid").get_by_role("link", name=number)).to_be_visible()
    page.screenshot(path=tmp_path / "3-day.png", full_page=True)

    # The overlapping booking: named live, before submitting...
    page.goto("/conferences/new")
    fill_booking(page, "Clashing review", day, "10:30", "11:30")
    expect(preview.get_by_test_id("conflicts")).to_contain_text(SITE)
    expect(preview).to_contain_text(number)
    expect(preview).to_contain_text(f"{day} 10:00 E")
    page.screenshot(path=tmp_path / "4-preview.png", full_page=True)

    # ...and refused with 409 after submitting, the entered values kept.
    with page.expect_response(
        lambda r: r.url.endswith("/conferences/new") and r.request.method == "POST"
    ) as answer:
        page.get_by_role("button", name="Book conference").click()
    assert answer.value.status == 409
    refusal = page.get_by_test_id("refusal")
    expect(refusal).to_contain_text(SITE)
    expect(refusal).to_contain_text(number)
    expect(page.get_by_label("Title")).to_have_value("Clashing review")
    page.screenshot(path=tmp_path / "5-refused.png", full_page=True)


def test_scheduler_previews_and_books_a_weekly_series(
    server: RunningServer, browser: Browser, tmp_path: Path
) -> None:
    page = browser.new_page(base_url=server.base_url, viewport={"width": 1300, "height": 900})
    today = datetime.now(UTC).astimezone(ACME_ZONE).date()
    # Mondays from two weeks ahead: clear of everything the demo books.
    first = today + timedelta(days=14 + (7 - today.weekday()) % 7)
    mondays = [first + timedelta(days=7 * week) for week in range(4)]
    sign_in(page)

    page.get_by_role("link", name="Book", exact=True).click()
    fill_booking(page, "Weekly robot review", first.isoformat(), "10:00", "11:00")
    page.get_by_label("Repeats").select_option("weekly")
    expect(page.get_by_role("checkbox", name="Monday")).to_be_checked()
    page.get_by_label("Number of meetings").fill("4")

    preview = page.get_by_test_id("series-preview")
    expect(preview).to_contain_text("Weekly on Monday, 4 times")
    rows = preview.locator("tr[data-occurrence]")
    expect(rows).to_have_count(4)
    for row, monday in zip(rows.all(), mondays, strict=True):
        expect(row).to_contain_text(f"{monday} 10:00 E")
        expect(row).to_contain_text("free")
    page.screenshot(path=tmp_path / "6-series-preview.png", full_page=True)

    page.get_by_role("button", name="Book conference").click()

    expect(page).to_have_url(re.compile(r"/series/\d+$"))
    expect(page.get_by_test_id("rule-words")).to_have_text("Weekly on Monday, 4 times")
    meetings = page.get_by_test_id("occurrences").locator("tr[data-conference]")
    expect(meetings).to_have_count(4)
    for meeting, monday in zip(meetings.all(), mondays, strict=True):
        expect(meeting).to_contain_text(f"{monday} 10:00 E")
        expect(meeting).to_contain_text("requested")
    page.screenshot(path=tmp_path / "7-series.png", full_page=True)


def test_scheduler_starts_an_ad_hoc_conference_from_the_day_view(
    server: RunningServer, browser: Browser, tmp_path: Path
) -> None:
    page = browser.new_page(base_url=server.base_url, viewport={"width": 1300, "height": 900})
    sign_in(page)

    page.get_by_role("link", name="Day view").click()
    page.get_by_text("Ad hoc conference now").click()
    panel = page.get_by_test_id("adhoc-form")
    panel.get_by_label("Title").fill("Robot outage call")
    panel.get_by_label("Leader name").fill("Dana Leader")
    panel.get_by_label("Minutes").fill("30")
    panel.get_by_role("checkbox", name=SITE).check()
    page.screenshot(path=tmp_path / "8-adhoc-form.png", full_page=True)
    panel.get_by_role("button", name="Start ad hoc conference").click()

    expect(page).to_have_url(re.compile(r"/conferences/\d+$"))
    expect(page.get_by_test_id("status")).to_have_text("confirmed")
    expect(page.get_by_test_id("ready-by")).to_contain_text(re.compile(r"\d{2}:\d{2} E"))
    expect(page.get_by_test_id("sites")).to_contain_text(SITE)
    expect(page.get_by_test_id("extend-form")).to_be_visible()
    page.screenshot(path=tmp_path / "9-adhoc.png", full_page=True)
