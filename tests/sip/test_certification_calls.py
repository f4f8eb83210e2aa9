"""Certification test calls through the real SIP engine (worker process, pjsua2, committed
PostgreSQL) against sipp as the site: an answering site passes, a busy or silent one fails
with its cause stored, and sign-off is refused after a failure."""

import uuid

import pytest

from bridgedesk.identity import Actor, Role
from bridgedesk.settings import get_settings
from certification.service import calls
from reservations.models import SiteKind
from reservations.service import registry
from tests.sip.conftest import session_on, wait_for_probe
from tests.sip.sipp import sipp_uas

pytestmark = pytest.mark.postgres

TECHNICIAN = Actor(user_id=1, role=Role.TECHNICIAN, name="Tess Tech", email="tess@example.com")


@pytest.fixture(autouse=True)
def short_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hold the line 1.5 s for media and give a silent site 1.5 s to answer."""
    monkeypatch.setattr(get_settings(), "certification_media_seconds", 1.5)
    monkeypatch.setattr(get_settings(), "certification_answer_timeout_seconds", 1.5)


async def new_site(url: str, sip_uri: str) -> int:
    async with session_on(url) as session:
        customer = await registry.create_customer(
            session, registry.CustomerData(f"Customer {uuid.uuid4().hex[:6]}", "UTC"), by=None
        )
        site = await registry.create_site(
            session,
            registry.SiteData(
                customer_id=customer.id,
                name="Boardroom",
                kind=SiteKind.ROOM,
                timezone="Europe/Oslo",
                sip_uri=sip_uri,
                max_speed_kbps=1536,
                billing_zone="EU",
                contacts=[{"name": "Ola", "phone": "+47 555 0100"}],
            ),
            by=Actor(user_id=0, role=Role.ADMIN, name="Admin", email="admin@example.com"),
        )
        return site.id


async def run_test_call(url: str, site_id: int) -> dict:
    async with session_on(url) as session:
        test = await calls.request_test(session, site_id, by=TECHNICIAN)
        probe_id = test.probe_id
    await wait_for_probe(url, probe_id, within=15)
    async with session_on(url) as session:
        _, record, tests = await calls.overview(session, site_id, by=TECHNICIAN)
        latest = tests[0]
        return {
            "state": record.state,
            "outcome": latest.outcome,
            "final_status": latest.final_status,
            "setup_ms": latest.setup_ms,
            "codec": latest.codec,
            "media_seconds": latest.media_seconds,
            "cause": latest.cause,
            "detail": latest.detail,
        }


async def sign_off(url: str, site_id: int) -> str:
    async with session_on(url) as session:
        try:
            record = await calls.sign_off(session, site_id, by=TECHNICIAN)
        except calls.SignOffRefused as refusal:
            return f"refused: {refusal.detail}"
        return record.state


async def test_a_site_that_answers_with_media_passes_and_is_signed_off(engine):
    url = engine.database_url
    # With -m 1 sipp leaves after one call, exit status 0 only if that call ran the whole
    # scenario: answered, then our BYE received and acknowledged (a clean teardown).
    with sipp_uas("answer", pause_ms=200, extra_args=("-m", "1")) as peer:
        site_id = await new_site(url, peer.uri())
        result = await run_test_call(url, site_id)
        assert peer.process.wait(timeout=10) == 0, peer.log()
    assert result["outcome"] == "passed", result
    assert (result["final_status"], result["codec"], result["cause"]) == (200, "PCMU/8000", "ok")
    assert 180 <= result["setup_ms"] <= 260, result  # sipp answered after 200 ms
    assert 1.0 <= result["media_seconds"] <= 1.7, result
    assert result["state"] == "testing"
    assert await sign_off(url, site_id) == "certified"


@pytest.mark.parametrize(
    "peer_options, status, cause, detail",
    [
        ({"fill": {"status": "486", "reason": "Busy Here"}}, 486, "client_not_synchronized", "486"),
        ({}, None, "network", "no answer"),
    ],
    ids=["busy-486", "no-answer"],
)
async def test_a_busy_or_silent_site_fails_with_its_cause_and_cannot_be_signed_off(
    engine, peer_options, status, cause, detail
):
    url = engine.database_url
    scenario_name = "reject" if peer_options else "ring_forever"
    with sipp_uas(scenario_name, **peer_options) as peer:
        site_id = await new_site(url, peer.uri())
        result = await run_test_call(url, site_id)
    assert result["outcome"] == "failed", result
    assert (result["final_status"], result["cause"]) == (status, cause), result
    assert detail in result["detail"], result
    assert result["codec"] is None and result["setup_ms"] is None
    assert result["state"] == "failed"
    refused = await sign_off(url, site_id)
    assert refused.startswith("refused: The latest test call failed"), refused


async def test_sign_off_is_refused_after_a_failure_that_follows_a_pass(engine):
    url = engine.database_url
    with sipp_uas("answer") as peer:
        site_id = await new_site(url, peer.uri())
        assert (await run_test_call(url, site_id))["outcome"] == "passed"
    # The site's address stops answering: the next test fails and decides the sign-off.
    with sipp_uas("reject", fill={"status": "486", "reason": "Busy Here"}) as busy:
        async with session_on(url) as session:
            await registry.update_site(session, site_id, {"sip_uri": busy.uri()}, by=TECHNICIAN)
        assert (await run_test_call(url, site_id))["outcome"] == "failed"
    assert (await sign_off(url, site_id)).startswith("refused")
