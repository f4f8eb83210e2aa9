"""Dials (the calls legs are made of) against sipp: held until hung up, ended by the far
end's BYE, or by missing media; each end recorded with its reason and cause."""

import pytest

from bridge.service.dials import DialView, get_dials, request_dial, request_hangup
from tests.sip.conftest import session_on, wait_for_dial, wait_until
from tests.sip.sipp import sipp_uas

pytestmark = pytest.mark.postgres


async def _dial(url: str, uri: str, **options: object) -> int:
    async with session_on(url) as session:
        return (await request_dial(session, sip_uri=uri, purpose="test", **options)).id  # type: ignore[arg-type]


async def _read(url: str, dial_id: int) -> DialView:
    async with session_on(url) as session:
        return (await get_dials(session, [dial_id]))[dial_id]


async def test_a_dial_stays_up_until_we_hang_up(engine):
    url = engine.database_url
    with sipp_uas("answer", pause_ms=100) as peer:
        dial_id = await _dial(url, peer.uri(), leg_id=7)
        up = await wait_for_dial(url, dial_id, {"connected", "ended"})
        assert up.status == "connected", up
        assert up.codec == "PCMU/8000" and up.final_status == 200 and up.leg_id == 7
        assert abs(up.answer_ms - 100) <= 20  # type: ignore[operator]
        # Still up, with media flowing (sipp echoes our RTP) and reported while it lasts.
        flowing = await wait_until(
            lambda: _read(url, dial_id),
            lambda v: v.last_media_at is not None,
            within=5,
            what="media on the dial",
        )
        assert flowing.status == "connected" and flowing.rtp_packets_received > 0
        async with session_on(url) as session:
            await request_hangup(session, dial_id)
            await request_hangup(session, dial_id)  # asking twice is harmless
        ended = await wait_for_dial(url, dial_id, {"ended"})
    assert (ended.end_reason, ended.cause) == ("hangup", None), ended
    assert ended.connected_at is not None and ended.ended_at is not None
    assert ended.last_media_at is not None


async def test_the_far_end_hanging_up_ends_the_dial(engine):
    url = engine.database_url
    with sipp_uas("answer_then_bye", pause_ms=800) as peer:
        dial_id = await _dial(url, peer.uri())
        ended = await wait_for_dial(url, dial_id, {"ended"})
    assert ended.connected_at is not None
    assert ended.end_reason == "remote_bye", ended
    assert ended.cause == "client_not_synchronized"
    held = (ended.ended_at - ended.connected_at).total_seconds()  # type: ignore[operator]
    assert 0.6 <= held <= 1.5, held


async def test_a_dial_without_media_is_hung_up(engine):
    """The module's engine runs with BRIDGEDESK_NO_MEDIA_SECONDS=1.5; this far end sends no
    RTP back."""
    url = engine.database_url
    with sipp_uas("answer", rtp_echo=False) as peer:
        dial_id = await _dial(url, peer.uri())
        ended = await wait_for_dial(url, dial_id, {"ended"})
    assert (ended.end_reason, ended.cause) == ("no_media", "network"), ended
    assert ended.last_media_at is None


async def test_a_refused_dial_ends_failed_with_its_cause(engine):
    url = engine.database_url
    with sipp_uas("reject", fill={"status": "603", "reason": "Decline"}) as peer:
        dial_id = await _dial(url, peer.uri())
        ended = await wait_for_dial(url, dial_id, {"ended"})
    assert (ended.end_reason, ended.cause, ended.final_status) == (
        "failed",
        "client_not_synchronized",
        603,
    )
    assert ended.connected_at is None


async def test_hanging_up_while_it_rings_cancels_the_dial(engine):
    url = engine.database_url
    with sipp_uas("ring_forever") as peer:
        dial_id = await _dial(url, peer.uri(), answer_timeout_seconds=30)
        ringing = await wait_until(
            lambda: _read(url, dial_id),
            lambda v: v.status == "dialing" and v.call_id is not None,
            within=5,
            what="dial sent",
        )
        async with session_on(url) as session:
            await request_hangup(session, dial_id)
        ended = await wait_for_dial(url, dial_id, {"ended"}, within=5)
    assert ringing.connected_at is None
    assert (ended.end_reason, ended.cause, ended.connected_at) == ("hangup", None, None)
