"""Issue 15's missing pages in a real Chromium against the real server with the demo loaded:
an admin adds a user who signs in and changes their password; an operator schedules a
maintenance window (warned of short notice and of the conference inside it) and records an
outage; a scheduler copies a calendar feed URL that works without a session; the API docs
load nothing from another host."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import httpx
import icalendar
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.browsing import DEMO_PASSWORD, api_as, browser_marks, demo_server, sign_in
from tests.server_process import RunningServer

ADMIN = "admin@bridgedesk.example"
OPERATOR = "operator@bridgedesk.example"
SCHEDULER = "scheduler@acme.example"

pytestmark = browser_marks()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    # One demo server for the module: the journeys below touch different users and records.
    with demo_server(tmp_path_factory.mktemp("pages")) as running:
        yield running


def _page(browser: Browser, server: RunningServer) -> Page:
    return browser.new_page(base_url=server.base_url, viewport={"width": 1300, "height": 900})


def _sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_admin_adds_a_user_who_signs_in_and_changes_their_password(
    server: RunningServer, browser: Browser
) -> None:
    page = _page(browser, server)
    sign_in(page, ADMIN)
    page.get_by_role("link", name="Users").click()
    form = page.get_by_test_id("add-user")
    form.get_by_label("Email").fill("dana@bridgedesk.example")
    form.get_by_label("Name").fill("Dana Operator")
    form.get_by_label("Role").select_option("operator")
    form.get_by_label("Initial password").fill("first-password-1")
    form.get_by_role("button", name="Add user").click()
    expect(page.get_by_role("status")).to_contain_text("The user was added")
    expect(page.locator('tr[data-user="dana@bridgedesk.example"]')).to_contain_text("active")
    _sign_out(page)

    sign_in(page, "dana@bridgedesk.example", "first-password-1")
    expect(page.get_by_role("link", name="Dana Operator (operator)")).to_be_visible()
    page.get_by_role("link", name="Dana Operator (operator)").click()
    expect(page.get_by_role("heading", name="My account")).to_be_visible()
    # A mistyped repeat is refused inline, and nothing changes.
    page.get_by_label("Current password").fill("first-password-1")
    page.get_by_label("New password", exact=True).fill("second-password-2")
    page.get_by_label("New password again").fill("second-password-X")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("alert")).to_contain_text("differ")
    page.get_by_label("Current password").fill("first-password-1")
    page.get_by_label("New password", exact=True).fill("second-password-2")
    page.get_by_label("New password again").fill("second-password-2")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("status")).to_contain_text("Your password was changed")
    _sign_out(page)

    sign_in(page, "dana@bridgedesk.example", "first-password-1")
    expect(page.get_by_role("alert")).to_contain_text("wrong password")
    sign_in(page, "dana@bridgedesk.example", "second-password-2")
    expect(page.get_by_role("link", name="Dana Operator (operator)")).to_be_visible()


def _book_tomorrow(server: RunningServer) -> tuple[str, datetime]:
    """A conference of Acme's, booked through the API, starting in about 30 hours."""
    with api_as(server.base_url, OPERATOR, DEMO_PASSWORD) as client:
        customer = next(c for c in client.get("/api/v1/customers").json() if "Acme" in c["name"])
        sites = client.get("/api/v1/sites", params={"customer_id": customer["id"]}).json()
        start = (datetime.now(UTC) + timedelta(hours=30)).replace(minute=0, second=0, microsecond=0)
        for site in sites:  # the first site free at that hour
            answer = client.post(
                "/api/v1/conferences",
                json={
                    "customer_id": customer["id"],
                    "title": "Board review during maintenance",
                    "leader_name": "Lee",
                    "start": start.isoformat(),
                    "end": (start + timedelta(hours=1)).isoformat(),
                    "sites": [{"site_id": site["id"]}],
                },
            )
            if answer.status_code == 201:
                return str(answer.json()["number"]), start
    raise AssertionError("no Acme site free tomorrow")


def _local(instant: datetime) -> str:
    """The value of a datetime-local input in the reporting zone (UTC by default)."""
    return instant.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M")


def test_operator_schedules_a_window_seeing_the_notice_warning_and_records_an_outage(
    server: RunningServer, browser: Browser
) -> None:
    number, start = _book_tomorrow(server)
    page = _page(browser, server)
    sign_in(page, OPERATOR)
    page.get_by_role("link", name="Maintenance").click()
    expect(page.get_by_role("heading", name="Maintenance and outages")).to_be_visible()
    form = page.locator("#schedule-window")
    form.get_by_label("Component").select_option("bridge")
    form.get_by_label("Starts").fill(_local(start - timedelta(minutes=30)))
    form.get_by_label("Ends").fill(_local(start + timedelta(hours=2)))
    form.get_by_label("Reason").fill("Bridge software upgrade")
    # Before saving: the live check warns of short notice and names the conference inside.
    expect(page.get_by_test_id("short-notice")).to_contain_text("less than 48 h")
    expect(page.get_by_test_id("conferences-inside")).to_contain_text(number)
    form.get_by_role("button", name="Schedule and notify customers").click()
    expect(page.get_by_role("status")).to_contain_text("scheduled")
    window_row = page.get_by_test_id("windows").locator("tr", has_text="Bridge software upgrade")
    expect(window_row).to_have_count(1)
    expect(window_row).to_contain_text(_local(start - timedelta(minutes=30)).replace("T", " "))

    outage = page.locator("#record-outage")
    yesterday = datetime.now(UTC) - timedelta(days=1)
    outage.get_by_label("Component").select_option("reservations")
    outage.get_by_label("Started").fill(_local(yesterday))
    outage.get_by_label("Ended").fill(_local(yesterday + timedelta(minutes=25)))
    outage.get_by_label("Note").fill("Storm cut the data centre's power")
    outage.get_by_label("Force majeure").check()
    outage.get_by_role("button", name="Record outage").click()
    expect(page.get_by_role("status")).to_contain_text("The outage was recorded")
    recorded = page.get_by_test_id("outages").locator("tr", has_text="Storm cut")
    expect(recorded).to_contain_text("manual")
    expect(recorded.locator("td").nth(4)).to_have_text("yes")


def test_scheduler_copies_a_feed_url_that_works_without_a_session(
    server: RunningServer, browser: Browser
) -> None:
    context = browser.new_context(
        base_url=server.base_url, permissions=["clipboard-read", "clipboard-write"]
    )
    page = context.new_page()
    sign_in(page, SCHEDULER)
    page.get_by_role("link", name="My conferences").click()
    page.get_by_role("button", name="Subscribe to calendar").click()
    expect(page.get_by_test_id("feed")).to_contain_text("Acme")
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_text("Copied.")).to_be_visible()
    copied = str(page.evaluate("navigator.clipboard.readText()"))
    assert copied == page.locator("#feed-url").input_value()
    assert urlsplit(copied).netloc == urlsplit(server.base_url).netloc

    answer = httpx.get(copied)  # a calendar application: no cookie, no header
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/calendar")
    calendar = icalendar.Calendar.from_ical(answer.content)
    assert calendar.walk("VTIMEZONE"), "the feed carries its time zone"
    assert calendar.walk("VEVENT"), "the demo's bookings are in the feed"
    # The key is the only way in: the same URL without it is refused.
    assert httpx.get(copied.split("?")[0]).status_code == 401
    context.close()


def test_the_api_docs_load_nothing_from_another_host(
    server: RunningServer, browser: Browser
) -> None:
    page = _page(browser, server)
    own = urlsplit(server.base_url).netloc
    hosts: list[str] = []
    page.on("request", lambda request: hosts.append(urlsplit(request.url).netloc))
    for path, heading in (("/docs", "API documentation"), ("/redoc", "API reference")):
        answer = page.goto(path)
        assert answer is not None and answer.status == 200
        page.wait_for_load_state("networkidle")
        assert {host for host in hosts if host != own} == set(), f"{path} asked {hosts}"
        expect(page.get_by_role("heading", name=heading)).to_be_visible()
        booking = page.locator("details.operation", has_text="/api/v1/conferences/adhoc")
        expect(booking.first).to_be_visible()
        booking.first.locator("summary").click()
        expect(booking.first).to_contain_text("AdhocIn")
    page.wait_for_load_state("networkidle")
    assert hosts and set(hosts) == {own}, hosts
