"""Isolation at launch (issue 11, poison rows): a site whose SIP URI cannot be dialed, written
straight into the database, in a conference starting next to a healthy one. The healthy
conference's legs are dialed and connected, and so is the bad conference's good site; the
bad leg is `failed` with a cause, and nothing else waits on it or rolls back."""

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bridge.models import Launch, LegAttempt
from tests.sip.conferences import book_now, hang_up, jobs_on, rows, run_jobs_until
from tests.sip.sipp import sipp_uas

pytestmark = pytest.mark.postgres


@pytest.fixture
async def jobs(engine, monkeypatch) -> AsyncIterator[str]:
    async with jobs_on(engine.database_url, monkeypatch) as url:
        yield url


@pytest.mark.parametrize(
    "bad_uri", ["tel:+15550100", "sip:room 4@bad host", "https://example.com/room"]
)
async def test_an_undialable_site_fails_alone_and_every_other_leg_is_dialed(jobs, bad_uri):
    url = jobs
    with sipp_uas("answer", pause_ms=0) as peer:
        healthy = await book_now(
            url,
            [{"name": "Healthy 1", "sip_uri": peer.uri("h1")},
             {"name": "Healthy 2", "sip_uri": peer.uri("h2")}],
        )  # fmt: skip
        poisoned = await book_now(
            url,
            [{"name": "Good", "sip_uri": peer.uri("g")}, {"name": "Bad", "sip_uri": bad_uri}],
        )
        both = await run_jobs_until(
            url, poisoned,
            lambda ls: len(ls) == 2 and ls[0].state == "connected" and ls[1].state == "failed",
            within=15, what="the good site connected, the bad one failed",
        )  # fmt: skip
        others = await run_jobs_until(
            url, healthy, lambda ls: len(ls) == 2 and all(leg.state == "connected" for leg in ls),
            within=15, what="the healthy conference connected",
        )  # fmt: skip
        await hang_up(url, healthy, poisoned)
    good, bad = both
    assert bad.sip_uri == bad_uri and bad.dial_id is None
    assert bad.cause == "technical_support"  # the provider let it past the rule
    assert bad.detail and bad.detail.startswith("not dialable:")
    assert good.first_connected_at is not None and all(o.first_connected_at for o in others)
    [attempt] = await rows(url, select(LegAttempt).where(LegAttempt.leg_id == bad.id))
    assert (attempt.cause, attempt.end_reason, attempt.dial_id) == (
        "technical_support", "undialable", None,
    )  # fmt: skip
    launched = await rows(
        url, select(Launch.conference_id).where(Launch.conference_id.in_([healthy, poisoned]))
    )
    assert sorted(launched) == sorted([healthy, poisoned])
