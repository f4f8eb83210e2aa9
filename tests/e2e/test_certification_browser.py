"""A technician runs a certification test call from a site's page in a real Chromium: the real
server, the real SIP engine and sipp answering as the site; the page shows the call pending,
then its result without being reloaded by hand, and the site is signed off."""

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.conftest import own_database
from tests.e2e.browsing import DEMO_PASSWORD, api_as, browser_marks, sign_in
from tests.server_process import RunningServer, run_cli, running_server
from tests.sip.conftest import sip_engine
from tests.sip.sipp import sipp_uas

# From `bridgedesk demo`: the technician, and the external site the demo leaves under test.
TECHNICIAN = "technician@bridgedesk.example"
SITE = "London Partner Suite"

pytestmark = browser_marks(pytest.mark.postgres)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    """Demo data on a committed PostgreSQL database, the web server and the SIP engine on it."""
    with own_database("bridgedesk_e2e_cert") as url:
        run_cli(url, "demo")
        env = {"BRIDGEDESK_CERTIFICATION_MEDIA_SECONDS": "1.5"}
        with sip_engine(url, processes=1), running_server(url, tmp_path, extra_env=env) as web:
            yield web


def point_site_at(server: RunningServer, sip_uri: str) -> int:
    """The site's SIP URI becomes sipp's, through the API as the technician."""
    with api_as(server.base_url, TECHNICIAN, DEMO_PASSWORD) as api:
        site = next(s for s in api.get("/api/v1/sites").json() if s["name"] == SITE)
        patched = api.patch(f"/api/v1/sites/{site['id']}", json={"sip_uri": sip_uri})
        assert patched.status_code == 200, patched.text
        return int(site["id"])


def test_technician_runs_a_test_call_and_sees_its_result(
    server: RunningServer, browser: Browser
) -> None:
    with sipp_uas("answer", pause_ms=100) as peer:
        site_id = point_site_at(server, peer.uri())
        page = browser.new_page(base_url=server.base_url, viewport={"width": 1300, "height": 900})
        sign_in(page, TECHNICIAN)
        page.get_by_role("link", name="Certification").click()

        queue = page.get_by_test_id("certification-queue")
        expect(queue).to_contain_text(SITE)
        queue.get_by_role("link", name=SITE).click()
        expect(page).to_have_url(re.compile(rf"/certification/sites/{site_id}$"))
        expect(page.get_by_test_id("certification-state")).to_have_text("testing")

        navigations: list[str] = []
        page.get_by_role("button", name="Run test call").click()
        first = page.locator("[data-testid=tests] tbody tr").first
        expect(first.get_by_test_id("test-outcome")).to_have_text("pending…")
        page.on("framenavigated", lambda frame: navigations.append(frame.url))
        # The page asks for the result itself and shows it once the engine has made the call.
        expect(first.get_by_test_id("test-outcome")).to_have_text("passed", timeout=20_000)
        expect(first).to_contain_text("200")
        expect(first).to_contain_text("PCMU/8000")
        # Seconds of media seen (about 1.5 s asked; a loaded machine measures a little less).
        expect(first).to_contain_text(re.compile(r"\b[0-9]\.[0-9] s"))
        assert len(navigations) <= 1, navigations  # at most the page's own refresh

        page.get_by_role("button", name="Sign off").click()
        expect(page.get_by_test_id("certification-state")).to_have_text("certified")
        expect(page.get_by_test_id("history")).to_contain_text("signed_off_by")
