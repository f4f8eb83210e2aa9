"""The problem-call checklist on the live page, in a real Chromium against the real server:
a site past its recovery window shows the seed's steps, and one click records an outcome."""

import asyncio
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy.ext.asyncio import async_sessionmaker

from bridge.models import Launch, Leg
from bridge.service import bookings, procedure
from bridgedesk.db import create_engine_for
from tests.bridge.calls import dropped_past_window
from tests.conftest import own_database
from tests.e2e.browsing import api_as, book_through_api, browser_marks, sign_in
from tests.server_process import RunningServer, run_cli, running_server

OPERATOR, PASSWORD = "operator@procedure.example", "a-long-operator-password"

pytestmark = browser_marks(pytest.mark.postgres)


@pytest.fixture
def database_url() -> Iterator[str]:
    with own_database("bridgedesk_procedure") as url:
        yield url


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[RunningServer]:
    run_cli(
        database_url,
        *("user", "add", OPERATOR, "--role", "operator", "--password", PASSWORD),
        *("--name", "Olga Operator"),
    )
    with running_server(database_url, tmp_path) as running:
        yield running


def book(base_url: str) -> tuple[int, int, int]:
    """A customer, the Boardroom (two technical contacts) and the Lab, a conference of both."""
    technical = [
        {"name": "Tess Tech", "email": "tess@procedure.example"},
        {"name": "Nick Night", "phone": "+1 555 0101", "pager": "555 0102"},
    ]
    with api_as(base_url, OPERATOR, PASSWORD) as api:
        conference, (board_id, lab_id) = book_through_api(
            api,
            customer={
                "name": "Procedure Customer",
                "primary_contact": {"name": "Pat Primary", "email": "pat@procedure.example"},
            },
            sites=[
                {"name": name, "sip_uri": f"sip:{name.lower()}@127.0.0.1", "contacts": contacts}
                for name, contacts in (("Boardroom", technical), ("Lab", []))
            ],
            title="Problem call",
            start=datetime.now(UTC) + timedelta(minutes=2),
        )
    return int(conference["id"]), board_id, lab_id


async def _running_with_a_site_past_its_window(
    database_url: str, conference_id: int, board_id: int, lab_id: int
) -> int:
    """What the bridge leaves after the window (no SIP worker runs here, so nothing moves)."""
    engine = create_engine_for(database_url)
    now = datetime.now(UTC)
    try:
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        async with sessions() as session, session.begin():
            session.add(
                Launch(
                    conference_id=conference_id,
                    scheduled_start=now - timedelta(minutes=10),
                    scheduled_end=now + timedelta(minutes=20),
                    launched_at=now - timedelta(minutes=10),
                )
            )
            legs = {}
            for site_id, state in ((board_id, "audio_fallback"), (lab_id, "connected")):
                legs[site_id] = Leg(
                    conference_id=conference_id,
                    site_id=site_id,
                    kind="video",
                    origin="launch",
                    sip_uri="sip:room@127.0.0.1",
                    speed_kbps=768,
                    state=state,
                    redials=0,
                    created_at=now - timedelta(minutes=10),
                    connected_at=now - timedelta(minutes=9) if state == "connected" else None,
                    state_changed_at=now - timedelta(minutes=1),
                )
                session.add(legs[site_id])
            await session.flush()
            incident = await dropped_past_window(session, legs[board_id], now)
            sites = await bookings.sites(session, [board_id, lab_id])
            conference = (await bookings.conferences(session, [conference_id]))[conference_id]
            await procedure.open_procedure(
                session,
                incident,
                site=sites[board_id],
                conference=conference,
                sites=sites,
                now=now,
            )
            return incident.id
    finally:
        await engine.dispose()


def test_the_live_page_records_a_procedure_outcome_with_one_click(
    server: RunningServer, browser: Browser, tmp_path: Path
) -> None:
    conference_id, board_id, lab_id = book(server.base_url)
    # Playwright's sync API holds this thread's event loop: the seeding runs on another.
    seeding = _running_with_a_site_past_its_window(
        server.database_url, conference_id, board_id, lab_id
    )
    with ThreadPoolExecutor(1) as pool:
        incident_id = pool.submit(asyncio.run, seeding).result()
    page = browser.new_page(base_url=server.base_url, viewport={"width": 1300, "height": 1000})
    sign_in(page, OPERATOR, PASSWORD)
    page.goto("/live")

    checklist = page.locator(f"[data-testid=procedure][data-incident='{incident_id}']")
    expect(checklist).to_be_visible()
    steps = checklist.get_by_test_id("procedure-step")
    expect(steps).to_have_count(6)
    kinds = [steps.nth(i).get_attribute("data-kind") for i in range(6)]
    assert kinds == [
        "site_contact",
        "site_contact",
        "scheduler",
        "troubled_room",
        "connected_room",
        "primary_contact",
    ]
    second = steps.nth(1)
    expect(second).to_contain_text("Nick Night")
    expect(second).to_contain_text("pager 555 0102")
    page.screenshot(path=tmp_path / "1-checklist.png", full_page=True)

    second.get_by_role("button", name="Receptionist asked to page").click()

    expect(page).to_have_url(f"{server.base_url}/live#procedure-{incident_id}")
    recorded = page.locator(
        f"[data-testid=procedure][data-incident='{incident_id}'] [data-testid=procedure-step]"
    ).nth(1)
    expect(recorded.get_by_test_id("procedure-attempts")).to_contain_text(
        "Receptionist asked to page (Olga Operator)"
    )
    page.screenshot(path=tmp_path / "2-recorded.png", full_page=True)
    with api_as(server.base_url, OPERATOR, PASSWORD) as api:
        body = api.get(f"/api/v1/incidents/{incident_id}/procedure").json()
    assert [(a["outcome"], a["made_by"]) for a in body["steps"][1]["attempts"]] == [
        ("receptionist_paged", "Olga Operator")
    ]
    assert body["current"] == 1  # the first contact is still to be called
