"""Call-setup probes against sipp as the far end, through the real engine (worker process,
pjsua2, database): measures, final statuses and causes as SPEC §5 lists them."""

import pytest

from bridge.service.probes import request_probe
from tests.sip.conftest import session_on, wait_for_probe
from tests.sip.sipp import sipp_uas

pytestmark = pytest.mark.postgres

# The far end answers this long after ringing; the probe must measure it within 20 ms. (Not a
# round 300: a 100 ms stall in the event pump would land in phase with it and go unseen.)
ANSWER_DELAY_MS = 350


async def _probe(url: str, uri: str, **options: object) -> int:
    async with session_on(url) as session:
        return (await request_probe(session, sip_uri=uri, **options)).id  # type: ignore[arg-type]


async def test_answered_call_measures_time_to_answer_codec_and_media(engine):
    with sipp_uas("answer", pause_ms=ANSWER_DELAY_MS) as peer:
        probe_id = await _probe(engine.database_url, peer.uri(), hold_seconds=1.5)
        view = await wait_for_probe(engine.database_url, probe_id, within=10)
    result = view.result
    assert result is not None and view.status == "done"
    assert (result.cause, result.passed, result.final_status) == ("ok", True, 200), result
    assert abs(result.answer_ms - ANSWER_DELAY_MS) <= 20, result.answer_ms  # type: ignore[operator]
    assert result.provisional_ms is not None and result.provisional_ms < 50
    assert result.codec == "PCMU/8000"
    # sipp echoes our RTP: media is seen for (nearly) the whole hold.
    assert result.rtp_packets_received > 40
    assert 1.0 <= result.media_seconds <= 1.7, result.media_seconds
    assert result.call_id
    assert result.started_at < result.finished_at


@pytest.mark.parametrize(
    "status, reason, cause",
    [
        ("486", "Busy Here", "client_not_synchronized"),
        ("480", "Temporarily Unavailable", "client_not_synchronized"),
        ("404", "Not Found", "client_not_synchronized"),
        ("503", "Service Unavailable", "client_hardware"),
    ],
)
async def test_refused_calls_record_status_and_cause(engine, status, reason, cause):
    with sipp_uas("reject", fill={"status": status, "reason": reason}) as peer:
        probe_id = await _probe(engine.database_url, peer.uri())
        view = await wait_for_probe(engine.database_url, probe_id, within=10)
    result = view.result
    assert result is not None
    assert (result.final_status, result.cause, result.passed) == (int(status), cause, False)
    assert result.answer_ms is None
    assert result.provisional_ms is not None  # it rang first
    assert result.detail == f"{status} {reason}"


async def test_no_answer_times_out_as_network(engine):
    with sipp_uas("ring_forever") as peer:
        probe_id = await _probe(engine.database_url, peer.uri(), answer_timeout_seconds=1.5)
        view = await wait_for_probe(engine.database_url, probe_id, within=10)
    result = view.result
    assert result is not None
    assert (result.final_status, result.cause, result.passed) == (None, "network", False)
    assert "no answer within 1.5 s" in result.detail
    assert result.provisional_ms is not None
    elapsed = (result.finished_at - result.started_at).total_seconds()
    assert 1.5 <= elapsed < 2.5, elapsed


async def test_options_ping_records_status_and_round_trip(engine):
    with sipp_uas("options", pause_ms=50) as peer:
        probe_id = await _probe(engine.database_url, peer.uri(), method="OPTIONS")
        view = await wait_for_probe(engine.database_url, probe_id, within=10)
    result = view.result
    assert result is not None
    assert (result.final_status, result.cause, result.passed) == (200, "ok", True)
    assert 50 <= result.answer_ms < 80, result.answer_ms  # type: ignore[operator]


async def test_options_ping_to_nobody_is_network(engine):
    with sipp_uas("options") as peer:
        uri = peer.uri()  # a port that is closed again once the block ends
    probe_id = await _probe(engine.database_url, uri, method="OPTIONS", answer_timeout_seconds=1.0)
    view = await wait_for_probe(engine.database_url, probe_id, within=10)
    assert view.result is not None
    assert (view.result.final_status, view.result.cause) == (None, "network")


async def test_an_unresolvable_site_is_network_with_no_status(engine):
    """pjsip answers itself (502) when the name does not resolve: that is not the site's
    status, so none is recorded."""
    probe_id = await _probe(engine.database_url, "sip:site@no-such-host.invalid")
    view = await wait_for_probe(engine.database_url, probe_id, within=10)
    assert view.result is not None
    assert (view.result.final_status, view.result.cause) == (None, "network")
    assert view.result.detail.startswith("not reached")
