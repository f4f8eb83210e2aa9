"""`tel:` addresses dialed through the provider's PSTN gateway (SPEC §5 "What may be dialed"),
against real SIP: a site whose audio fallback is a phone number loses its video for good, and
once the (shortened) recovery window has passed the engine calls the number as
`sip:<number>@<gateway>`, the gateway being a sipp that records what it received."""

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bridgedesk.db import create_engine_for, database
from bridgedesk.settings import get_settings
from tests.conftest import create_pg_database, drop_pg_database
from tests.sip.conftest import sip_engine
from tests.sip.sipp import SippPeer, sipp_uas
from tests.sip.test_drop_recovery import RECOVERY_ENV, book_now, run_jobs_until

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
        await run_jobs_until(
            url, conference_id, lambda ls: ls[0].state == "connected", within=15, what="launch"
        )
        await run_jobs_until(
            url,
            conference_id,
            lambda ls: ls[0].state in ("dropped", "reconnecting"),
            within=10,
            what="the drop",
        )
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
