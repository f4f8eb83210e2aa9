"""`tel:` addresses dialed through the provider's PSTN gateway (SPEC §5 "What may be dialed"),
against real SIP: a site whose audio fallback is a phone number loses its video for good, and
once the (shortened) recovery window has passed the engine calls the number as
`sip:<number>@<gateway>`, the gateway being a sipp that records what it received."""

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bridge.models import Dial, Probe
from bridge.service.dials import request_hangup
from bridgedesk.clock import utcnow
from bridgedesk.db import create_engine_for, database
from bridgedesk.settings import get_settings
from tests.conftest import create_pg_database, drop_pg_database
from tests.sip.conferences import RECOVERY_ENV, book_now, connected_then_dropped, run_jobs_until
from tests.sip.conftest import session_on, sip_engine, wait_for_dial, wait_for_probe
from tests.sip.sipp import SippPeer, sipp_uas

pytestmark = pytest.mark.postgres

NUMBER = "+1-555-0100"  # as a customer types it; the gateway gets the digits
DIALED = "+15550100"


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[tuple[SippPeer, Path]]:
    """A sipp answering every call, as the provider's gateway; its messages go to a file."""
    messages = tmp_path / "gateway-messages.log"
    with sipp_uas(
        "answer", pause_ms=0, extra_args=("-trace_msg", "-message_file", str(messages))
    ) as peer:
        yield peer, messages


@pytest.fixture
async def gateway_installation(gateway, monkeypatch) -> AsyncIterator[str]:
    """A database of its own, and a SIP engine and jobs configured with the gateway (no other
    engine may take these dials: the shared one has no gateway)."""
    peer, _ = gateway
    url = create_pg_database("bridgedesk_gateway")
    env = {
        **RECOVERY_ENV,
        "BRIDGEDESK_DATABASE_URL": url,
        "BRIDGEDESK_PSTN_GATEWAY": f"sip:{{number}}@{peer.host}:{peer.port}",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    database.use(create_engine_for(url))
    try:
        with sip_engine(url, processes=1, env=env):
            yield url
    finally:
        await database.dispose()
        get_settings.cache_clear()
        drop_pg_database(url)


async def test_the_audio_fallback_of_a_tel_site_dials_the_number_at_the_gateway(
    gateway, gateway_installation
):
    url = gateway_installation
    peer, messages = gateway
    # The site takes one call, hangs up after 1.5 s and is gone (sipp exits).
    with sipp_uas("answer_then_bye", pause_ms=1500, extra_args=("-m", "1")) as site:
        conference_id = await book_now(
            url, [{"name": "Boardroom", "sip_uri": site.uri(), "audio_uri": f"tel:{NUMBER}"}]
        )
        await connected_then_dropped(url, conference_id)
    video, audio = await run_jobs_until(
        url,
        conference_id,
        lambda ls: len(ls) == 2 and ls[1].state == "connected",
        within=20,
        what="the audio link connected through the gateway",
    )
    assert video.state == "audio_fallback"
    assert (audio.kind, audio.sip_uri) == ("audio", f"tel:{NUMBER}")  # what the site has
    received = messages.read_text(errors="replace")
    # What the engine dialed: the number's digits at the gateway.
    assert f"INVITE sip:{DIALED}@{peer.host}:{peer.port} SIP/2.0" in received, received[-3000:]


async def test_the_engine_refuses_an_undialable_row_with_its_reason_and_dials_the_rest(engine):
    """Rows written past the rule (straight into the tables; the shared engine has no gateway):
    each ends with the reason and no INVITE, and a good dial in the same batch connects."""
    url = engine.database_url
    now = utcnow()
    with sipp_uas("answer", pause_ms=0) as site:
        async with session_on(url) as session:
            rows = [
                Dial(sip_uri=uri, purpose="test", status="queued", requested_at=now,
                     updated_at=now, rtp_packets_received=0)
                for uri in ("tel:+15550100", "sip:meta@169.254.169.254", site.uri())
            ]  # fmt: skip
            ping = Probe(
                sip_uri="sip:meta@169.254.169.254:80", method="OPTIONS", hold_seconds=0.0,
                purpose="test", status="queued", queued_at=now, attempts=0,
            )  # fmt: skip
            session.add_all([*rows, ping])
            await session.flush()
            tel, denied, good = (row.id for row in rows)
            ping_id = ping.id
        up = await wait_for_dial(url, good, {"connected", "ended"})
        assert up.status == "connected", up
        for dial_id, reason in ((tel, "PSTN_GATEWAY"), (denied, "does not call")):
            ended = await wait_for_dial(url, dial_id, {"ended"})
            assert (ended.end_reason, ended.cause) == ("undialable", "technical_support")
            assert ended.detail and reason in ended.detail and ended.call_id is None
        probe = await wait_for_probe(url, ping_id)
        assert probe.result is not None and "does not call" in probe.result.detail
        assert not probe.result.passed
        async with session_on(url) as session:
            await request_hangup(session, good)
