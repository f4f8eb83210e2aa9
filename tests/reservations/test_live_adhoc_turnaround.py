"""The ad hoc promise: `ready_by` grows with the number of sites for every site, more for
uncertified ones; a request made on the web page gets the 15-minute window; the call
statistic measures each conference against its own promise."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from bridgedesk.identity import Role
from monitoring.service.callstats import ConferenceFact, call_statistics
from reservations.models import Conference
from reservations.service.live import ADHOC_TURNAROUND, ready_by
from tests.reservations.browsing import csrf_of
from tests.reservations.test_live_pages import adhoc_form

T = datetime(2031, 5, 6, 9, 0, tzinfo=UTC)
M = timedelta(minutes=1)


def _sites(certified: int, uncertified: int) -> list[SimpleNamespace]:
    return [SimpleNamespace(certification_state="certified")] * certified + [
        SimpleNamespace(certification_state="requested")
    ] * uncertified


@pytest.mark.parametrize(
    "certified, uncertified, on_the_fly, minutes",
    [
        (1, 0, False, 5),
        (4, 0, False, 5),  # up to four sites: the base alone
        (5, 0, False, 6),  # a minute for each site past the fourth
        (20, 0, False, 21),
        (2, 2, False, 15),  # five more for each uncertified one
        (0, 100, False, 5 + 96 + 500),
        (2, 0, True, 15),  # on the fly: the 15-minute window
        (6, 1, True, 15 + 3 + 5),
    ],
)
def test_ready_by_grows_with_every_site(certified, uncertified, on_the_fly, minutes):
    sites = _sites(certified, uncertified)
    assert ready_by(T, sites, on_the_fly=on_the_fly) == T + minutes * M  # type: ignore[arg-type]


def test_the_rule_is_data():
    assert (ADHOC_TURNAROUND.base, ADHOC_TURNAROUND.on_the_fly) == (5 * M, 15 * M)


def test_each_conference_is_measured_against_its_own_promise():
    """Both connected 10 minutes after the request: the on-the-fly one within its 15 minutes,
    the API one late against its 5."""
    on_the_fly = ConferenceFact(1, True, T, T + 15 * M)
    from_the_api = ConferenceFact(2, True, T, T + 5 * M)
    launches = [
        SimpleNamespace(
            conference_id=i, scheduled_start=T, all_connected_at=T + 10 * M, on_time=None
        )
        for i in (1, 2)
    ]
    stats = call_statistics([on_the_fly, from_the_api], [], launches, [])  # type: ignore[arg-type]
    assert stats.adhoc is not None
    assert (stats.adhoc.count, stats.adhoc.within_target) == (2, 1)


async def test_an_ad_hoc_start_on_the_web_page_gets_the_15_minute_window(
    db, make_customer, make_site, make_user, sign_in
):
    customer = await make_customer()
    sites = [await make_site(customer=customer, certification_state="certified") for _ in range(2)]
    page = await sign_in(await make_user(Role.SCHEDULER, customer_id=customer.id))
    form = await page.get("/conferences/adhoc")
    started = await page.post(
        "/conferences/adhoc", data=adhoc_form([s.id for s in sites], csrf_token=csrf_of(form))
    )
    assert started.status_code == 303, started.text
    conference = await db.scalar(select(Conference).where(Conference.adhoc.is_(True)))
    assert conference.ready_by - conference.booked_at == 15 * M
