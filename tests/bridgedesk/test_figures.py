"""The dashboard's certification chart draws certification's own monthly figure, through the
provider the app installs in `create_app` (monitoring may not import certification)."""

import re
from datetime import UTC, datetime, timedelta

import time_machine

from bridgedesk.identity import Role
from certification.models import CertificationSignOff, CertificationTest

NOW = datetime(2027, 6, 20, 12, 0, tzinfo=UTC)


def _bars(html: str, chart: str) -> dict[str, str]:
    svg = re.search(rf'<svg class="chart" data-chart="{chart}".*?</svg>', html, re.S)
    assert svg, chart
    return dict(re.findall(r'data-label="([^"]*)" data-value="([^"]*)"', svg.group(0)))


async def _sign_off(db, site_id: int, at: datetime, *, on_time: bool) -> None:
    test = CertificationTest(
        site_id=site_id,
        probe_id=0,
        requested_by="tech",
        requested_at=at - timedelta(minutes=5),
        sip_uri="sip:room@127.0.0.1",
        outcome="passed",
        final_status=200,
        finished_at=at - timedelta(minutes=4),
    )
    db.add(test)
    await db.flush()
    deadline = at + timedelta(hours=1) if on_time else at - timedelta(hours=1)
    db.add(
        CertificationSignOff(
            site_id=site_id,
            test_id=test.id,
            at=at,
            by="tech",
            deadline_kind="external",
            deadline=deadline,
            on_time=on_time,
        )
    )
    await db.flush()


async def test_the_dashboard_shows_the_share_of_certifications_on_time(db, make_site, client_as):
    site = await make_site()
    may = datetime(2027, 5, 10, 9, 0, tzinfo=UTC)
    june = datetime(2027, 6, 3, 9, 0, tzinfo=UTC)
    await _sign_off(db, site.id, may, on_time=True)
    await _sign_off(db, site.id, may + timedelta(days=1), on_time=False)
    await _sign_off(db, site.id, june, on_time=True)
    with time_machine.travel(NOW, tick=False):
        operator = await client_as(Role.OPERATOR)
        page = (await operator.get("/dashboard?months=3")).text
    assert _bars(page, "certification") == {"2027-04": "", "2027-05": "50", "2027-06": "100"}
