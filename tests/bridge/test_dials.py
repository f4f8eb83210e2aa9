"""The dial service the call handling builds on: what it accepts, hanging up before the
engine took a dial, and reading dials back by id."""

import pytest
from sqlalchemy import select

from bridge.models import Dial
from bridge.service.dials import (
    DialNotFound,
    end_cause,
    get_dials,
    request_dial,
    request_hangup,
)
from bridgedesk.errors import InvalidInput


async def test_a_dial_is_queued_with_what_was_asked(db):
    view = await request_dial(
        db, sip_uri="sip:room@10.0.0.7:5060", purpose="launch", leg_id=42,
        answer_timeout_seconds=20,
    )  # fmt: skip
    assert (view.status, view.purpose, view.leg_id) == ("queued", "launch", 42)
    assert view.connected_at is view.ended_at is view.end_reason is view.cause is None
    assert (await get_dials(db, [view.id, 999_999])) == {view.id: view}


@pytest.mark.parametrize(
    "options, refusal",
    [
        ({"sip_uri": "http://room.example", "purpose": "launch"}, "Not a SIP URI"),
        ({"sip_uri": "sip:room@host\r\nX: y", "purpose": "launch"}, "control characters"),
        ({"sip_uri": "sip:room@10.0.0.7", "purpose": ""}, "purpose"),
        ({"sip_uri": "sip:room@10.0.0.7", "purpose": "x" * 41}, "purpose"),
        (
            {"sip_uri": "sip:room@10.0.0.7", "purpose": "launch", "answer_timeout_seconds": 0},
            "answer_timeout_seconds",
        ),
        (
            {"sip_uri": "sip:room@10.0.0.7", "purpose": "launch", "answer_timeout_seconds": 301},
            "answer_timeout_seconds",
        ),
    ],
)
async def test_undialable_requests_are_refused(db, options, refusal):
    with pytest.raises(InvalidInput, match=refusal):
        await request_dial(db, **options)
    assert (await db.scalars(select(Dial))).all() == []


async def test_hanging_up_a_dial_no_engine_took_ends_it_at_once(db):
    view = await request_dial(db, sip_uri="sip:room@10.0.0.7", purpose="redial")
    await request_hangup(db, view.id)
    ended = (await get_dials(db, [view.id]))[view.id]
    assert (ended.status, ended.end_reason, ended.cause) == ("ended", "hangup", None)
    first_end = ended.ended_at
    await request_hangup(db, view.id)  # again: nothing changes
    assert (await get_dials(db, [view.id]))[view.id].ended_at == first_end
    with pytest.raises(DialNotFound):
        await request_hangup(db, 987_654)


@pytest.mark.parametrize(
    "end_reason, final_status, cause",
    [
        ("hangup", 200, None),  # we hung up: nothing failed
        ("remote_bye", 200, "client_not_synchronized"),  # the site left its meeting
        ("no_media", 200, "network"),
        ("engine_lost", None, "technical_support"),  # the provider's own
        ("failed", 486, "client_not_synchronized"),
        ("failed", 503, "client_hardware"),
        ("failed", None, "network"),
        ("undialable", None, "technical_support"),  # got past the rule on the provider's side
    ],
)
def test_one_rule_classifies_how_a_dial_ended(end_reason, final_status, cause):
    assert end_cause(end_reason, final_status) == cause


@pytest.mark.parametrize(
    "uri, reason",
    [
        ("tel:+15550100", "PSTN_GATEWAY"),
        ("sip:meta@169.254.169.254", "does not call"),
        ("sip:site@10.20.0.1:5060", "own bridges"),
    ],
)
async def test_a_dial_the_policy_refuses_ends_at_once_with_a_cause_and_raises_nothing(
    db, make_bridge, uri, reason
):
    await make_bridge(sip_uri="sip:bridge@10.20.0.1")
    view = await request_dial(db, sip_uri=uri, purpose="launch", leg_id=5)
    assert (view.status, view.end_reason, view.cause) == (
        "ended",
        "undialable",
        "technical_support",
    )
    assert view.detail is not None and reason in view.detail
    # Nothing is left for an engine to take.
    queued = (await db.scalars(select(Dial).where(Dial.status == "queued"))).all()
    assert queued == []


async def test_with_a_gateway_a_tel_dial_is_queued_as_the_site_has_it(db, set_settings):
    set_settings(pstn_gateway="sip:{number}@gw.provider.example")
    view = await request_dial(db, sip_uri="tel:+15550100", purpose="audio_fallback")
    # The engine maps it to the gateway when it dials (tests/sip/test_pstn_gateway.py).
    assert (view.status, view.sip_uri) == ("queued", "tel:+15550100")
