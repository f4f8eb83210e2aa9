"""An operator watches live conferences in a real Chromium while real calls come and go.

The real server, the real worker (scheduler plus SIP engine) on a PostgreSQL database, and
sipp sites on loopback: the Boardroom hangs up every few seconds and is redialed; the Lab
hangs up once and is gone, so its countdown runs down and its audio link (a third sipp)
takes its place. The page follows all of it without being reloaded."""

import random
import re
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import own_database
from tests.e2e.browsing import api_as, book_through_api, browser_marks, sign_in
from tests.server_process import RunningServer, run_cli, running_server, running_worker
from tests.sip.conftest import TEST_ENGINE_ENV
from tests.sip.sipp import sipp_uas

OPERATOR, PASSWORD = "operator@live.example", "a-long-operator-password"
# The 5-minute window shortened so the countdown runs out while the test watches.
WORKER_ENV = {
    **TEST_ENGINE_ENV,
    "BRIDGEDESK_SIP_WORKERS": "1",
    "BRIDGEDESK_RECOVERY_WINDOW_SECONDS": "12",
    "BRIDGEDESK_REDIAL_BACKOFF_INITIAL_SECONDS": "1",
    "BRIDGEDESK_REDIAL_BACKOFF_CAP_SECONDS": "2",
    "BRIDGEDESK_CONTACT_CHAIN_STEP_SECONDS": "0",
    "BRIDGEDESK_LAUNCH_INTERVAL_SECONDS": "1",
    "BRIDGEDESK_SUPERVISE_INTERVAL_SECONDS": "1",
}

pytestmark = browser_marks(pytest.mark.postgres)


@pytest.fixture
def database_url() -> Iterator[str]:
    with own_database("bridgedesk_live") as url:
        yield url


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[RunningServer]:
    run_cli(database_url, "user", "add", OPERATOR, "--role", "operator", "--password", PASSWORD)
    with running_server(database_url, tmp_path) as running:
        yield running


@pytest.fixture
def worker(database_url: str, server: RunningServer) -> Iterator[Path]:
    """`bridgedesk worker`: the job table (launch, supervise, outbox...) and the SIP engine."""
    log = Path(tempfile.mkstemp(prefix="live-worker-", suffix=".log")[1])
    base = random.randrange(40000, 50000, 100)
    env = {
        **WORKER_ENV,
        "BRIDGEDESK_SIP_PORT_MIN": str(base),
        "BRIDGEDESK_SIP_PORT_MAX": str(base + 99),
    }
    try:
        with running_worker(database_url, log, extra_env=env) as process:
            deadline = time.monotonic() + 30
            while "listening" not in log.read_text(errors="replace"):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"worker did not start:\n{log.read_text()[-4000:]}")
                time.sleep(0.1)
            yield log
    finally:
        log.unlink(missing_ok=True)


def book_now(base_url: str, board_uri: str, lab_uri: str, audio_uri: str) -> str:
    """Through the API as the operator: a customer, two sites, a conference starting now."""
    tess = [{"name": "Tess", "email": "tess@live.example"}]
    with api_as(base_url, OPERATOR, PASSWORD) as api:
        conference, _ = book_through_api(
            api,
            customer={
                "name": "Live Customer",
                "billing_emails": ["ap@live.example"],
                "primary_contact": {"name": "Pat", "phone": "1", "email": "pat@live.example"},
            },
            sites=[
                {
                    "name": "Boardroom",
                    "sip_uri": board_uri,
                    "audio_uri": None,
                    "contacts": tess,
                },
                {"name": "Lab", "sip_uri": lab_uri, "audio_uri": audio_uri, "contacts": tess},
            ],
            title="Live robots",
            start=datetime.now(UTC) + timedelta(seconds=3),
        )
    return str(conference["number"])


def leg_row(page: Page, site: str) -> object:
    return page.locator(f"tr[data-site='{site}']")


def test_the_live_page_follows_drops_redials_and_an_audio_fallback_without_reloading(
    server: RunningServer, worker: Path, browser: Browser, tmp_path: Path
) -> None:
    page = browser.new_page(base_url=server.base_url, viewport={"width": 1300, "height": 900})
    sign_in(page, OPERATOR, PASSWORD)
    page.get_by_role("link", name="Live").click()
    expect(page.get_by_role("heading", name="Live conferences")).to_be_visible()
    # Set once; a reload would lose it.
    page.evaluate("window.__sameDocument = 'yes'")

    with (
        sipp_uas("answer", pause_ms=0) as audio_line,
        sipp_uas("answer_then_bye", pause_ms=4000) as board,
        sipp_uas("answer_then_bye", pause_ms=4000, extra_args=("-m", "1")) as lab,
    ):
        number = book_now(server.base_url, board.uri(), lab.uri(), audio_line.uri("audio"))
        section = page.locator(f"section[data-conference='{number}']")
        board_state = section.locator("tr[data-site='Boardroom'] [data-testid=leg-state]")
        lab_row = section.locator("tr[data-site='Lab']")
        lab_state = lab_row.locator("[data-testid=leg-state]")

        expect(board_state).to_have_text("connected", timeout=20_000)
        expect(lab_state).to_have_text("connected", timeout=10_000)
        page.screenshot(path=tmp_path / "1-connected.png", full_page=True)

        # Both sites hang up after 4 s. The Lab is gone: its countdown to the audio link runs.
        expect(lab_state).to_have_text(re.compile("dropped|reconnecting"), timeout=15_000)
        countdown = lab_row.get_by_test_id("countdown")
        expect(countdown).to_have_text(re.compile(r"0:(0\d|1[0-2])"), timeout=5_000)
        page.screenshot(path=tmp_path / "2-countdown.png", full_page=True)

        # The Boardroom is redialed at once and is back, its incident restored.
        expect(section.get_by_test_id("drops")).not_to_have_text("0", timeout=10_000)
        expect(board_state).to_have_text("connected", timeout=10_000)
        expect(section.locator("tr[data-site='Boardroom'] summary")).to_contain_text(
            "restored", timeout=10_000
        )

        # Past the window the Lab's audio link is dialed and connects.
        expect(lab_state).to_have_text("audio_fallback", timeout=25_000)
        expect(lab_row.get_by_test_id("audio-fallback")).to_be_visible()
        audio_state = section.locator("tr[data-site='Lab (audio link)'] [data-testid=leg-state]")
        expect(audio_state).to_have_text("connected", timeout=15_000)
        page.screenshot(path=tmp_path / "3-audio-fallback.png", full_page=True)

    assert page.evaluate("window.__sameDocument") == "yes"
