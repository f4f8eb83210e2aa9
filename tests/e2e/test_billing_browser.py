"""Finance in a real Chromium against the real server: the month drafted by the CLI, a line
explained (legs, rounding, rate), the draft issued and its number shown; the customer's
billing user then sees it too."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import create_engine, pool, select
from sqlalchemy.orm import Session

from billing.service.periods import parse_period, period_of, previous_period
from bridge.models import CallRecord
from bridgedesk.db import sync_url
from bridgedesk.models import User
from reservations.models import Conference, Customer, Site, SiteHold
from tests.e2e.browsing import browser_marks
from tests.e2e.browsing import sign_in as sign_in_as
from tests.server_process import RunningServer, run_cli, running_server

pytestmark = browser_marks()


def _quiet_month() -> tuple[str, datetime]:
    """Three months back: before the demo's month of calls, so the draft holds only ours."""
    period = period_of(datetime.now(UTC), ZoneInfo("UTC"))
    for _ in range(3):
        period = previous_period(period)
    year, month = parse_period(period)
    return period, datetime(year, month, 10, 15, 0, tzinfo=UTC)


def _held_conference(database_url: str, start: datetime) -> tuple[str, int]:
    """Acme's conference held that month, with a drop and reconnect of its New York room."""
    engine = create_engine(sync_url(database_url), poolclass=pool.NullPool)
    with Session(engine) as session, session.begin():
        acme = session.scalars(select(Customer).where(Customer.name == "Acme Corporation")).one()
        ny, london = (
            session.scalars(
                select(Site)
                .where(Site.name.in_(["New York HQ Boardroom", "London Partner Suite"]))
                .order_by(Site.name.desc())
            )
        ).all()
        requester = session.scalars(
            select(User).where(User.email == "scheduler@acme.example")
        ).one()
        conference = Conference(
            number=f"C-{start.year}-990001",
            customer_id=acme.id,
            title="Board review",
            leader_name="Dana Leader",
            requester_id=requester.id,
            requester_name=requester.name,
            project_code="PRJ-100",
            features=["REC"],
            starts_at=start,
            ends_at=start + timedelta(hours=1),
            status="ended",
            recorded=False,
            booked_at=start - timedelta(days=2),
            sites=[
                SiteHold(
                    site_id=s.id,
                    speed_kbps=768,
                    starts_at=start,
                    ends_at=start + timedelta(hours=1),
                    held=True,
                )
                for s in (ny, london)
            ],
        )
        session.add(conference)
        session.flush()
        for site, offset, seconds in ((ny, 0, 601), (ny, 700, 299), (london, 0, 3661)):
            at = start + timedelta(seconds=offset)
            session.add(
                CallRecord(
                    conference_id=conference.id,
                    conference_number=conference.number,
                    customer_id=acme.id,
                    site_id=site.id,
                    bridge_id=None,
                    leg_id=None,
                    connected_at=at,
                    disconnected_at=at + timedelta(seconds=seconds),
                    speed_kbps=768,
                    disconnect_cause="normal",
                    source="import",
                    created_at=datetime.now(UTC),
                )
            )
            number, ny_id = conference.number, ny.id
    engine.dispose()
    return number, ny_id


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[RunningServer, str, str, int]]:
    database_url = f"sqlite:///{tmp_path / 'bridgedesk.db'}"
    run_cli(database_url, "demo")
    period, start = _quiet_month()
    number, ny_id = _held_conference(database_url, start)
    output = run_cli(database_url, "invoices", "run", "--month", period)
    assert f"{period}: 1 draft invoice(s), 1 conferences" in output, output
    with running_server(database_url, tmp_path) as running:
        yield running, period, number, ny_id


def sign_in(page: Page, email: str) -> None:
    sign_in_as(page, email)
    expect(page.get_by_role("link", name="Billing", exact=True)).to_be_visible()


def test_finance_explains_a_line_and_issues_the_draft(server, browser: Browser) -> None:
    running, period, number, ny_id = server
    page = browser.new_page(base_url=running.base_url, viewport={"width": 1300, "height": 900})
    sign_in(page, "finance@bridgedesk.example")
    page.get_by_role("link", name="Billing", exact=True).click()
    page.goto(f"/billing?month={period}")
    expect(page.get_by_role("heading", name=f"Invoices for {period}")).to_be_visible()
    page.get_by_role("link", name="Draft #").click()
    expect(page.get_by_test_id("invoice-status")).to_have_text("draft")
    # New York: 601 s -> 11 min and 299 s -> 5 min at 0.22 (768 kbps, US-EAST): 16 x 0.22.
    explain = page.get_by_test_id(f"explain-{number}-{ny_id}")
    explain.get_by_text("Explain this line").click()
    expect(explain).to_contain_text("601")
    expect(explain).to_contain_text("11 x 0.22 = 2.42")
    expect(explain).to_contain_text("5 x 0.22 = 1.10")
    expect(explain).to_contain_text("rounded once, half up, to 3.52")
    # London 3661 s -> 62 min x (0.22 x 1.4 + 0.05 = 0.358) = 22.196 -> 22.20; REC 15.00.
    expect(page.get_by_test_id("invoice-total")).to_have_text("USD 40.72")

    page.get_by_role("button", name="Issue and email to the billing contacts").click()
    year = datetime.now(UTC).year
    expect(page.get_by_test_id("invoice-title")).to_have_text(f"Invoice INV-{year}-000001")
    expect(page.get_by_test_id("invoice-status")).to_have_text("issued")
    expect(
        page.get_by_role("button", name="Issue and email to the billing contacts")
    ).to_have_count(0)

    # The customer's billing user now sees the issued invoice (and only issued ones).
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, "billing@acme.example")
    page.get_by_role("link", name="Billing", exact=True).click()
    expect(page.get_by_role("link", name=f"INV-{year}-000001")).to_be_visible()
