"""Dials: outgoing calls the SIP engine places and holds for the call handling (legs).

A dial is queued here and taken by a SIP worker process after the caller's transaction
commits; the engine writes its progress back to the row (dialing, connected, ended)."""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bridge.engine.classes import dial_class
from bridge.models import Dial
from bridge.service.probes import cause_for_status, check_purpose_and_timeout
from bridgedesk.clock import utcnow
from bridgedesk.errors import InvalidInput, NotFound
from bridgedesk.sip_uri import address_problem
from reservations.service import registry

# Why a dial ended. "engine_lost": the SIP worker process holding the call died;
# "undialable": the dial policy refused its URI, so no INVITE went out.
END_REASONS = ("failed", "remote_bye", "no_media", "hangup", "engine_lost", "undialable")
UNDIALABLE = "undialable"
# Sites are refused an undialable address when it is entered, so one met at dial time got past
# that rule through the provider's side (a gateway removed, a bridge registered on that
# endpoint, a row written by hand): the provider's fault, never the site's network.
UNDIALABLE_CAUSE = "technical_support"
# Why a connected call was lost, as a SPEC §5 cause. The one rule: the engine records it on
# the dial and the call handling classifies drops by it. A site that hangs up left the meeting
# it was booked into (client not synchronized); losing the engine process is the provider's
# own fault (technical support), reported apart from the customers' causes.
DROP_CAUSES = {
    "no_media": "network",
    "remote_bye": "client_not_synchronized",
    "engine_lost": "technical_support",
}


def end_cause(end_reason: str | None, final_status: int | None) -> str | None:
    """The cause of a dial that ended; None when we hung up ourselves."""
    if end_reason == "hangup":
        return None
    if end_reason == UNDIALABLE:
        return UNDIALABLE_CAUSE
    if end_reason in DROP_CAUSES:
        return DROP_CAUSES[end_reason]
    return cause_for_status(final_status).value


class DialNotFound(NotFound):
    message = "No such dial."


@dataclass(frozen=True)
class DialView:
    id: int
    sip_uri: str
    purpose: str
    leg_id: int | None
    status: str  # "queued" | "dialing" | "connected" | "ended"
    requested_at: datetime
    connected_at: datetime | None
    ended_at: datetime | None
    final_status: int | None
    answer_ms: float | None
    codec: str | None
    end_reason: str | None
    cause: str | None
    last_media_at: datetime | None
    hangup_requested_at: datetime | None = None
    provisional_ms: float | None = None
    call_id: str | None = None
    detail: str | None = None
    rtp_packets_received: int = 0
    updated_at: datetime | None = None
    tx_packets: int | None = None
    loss_pct: float | None = None
    jitter_ms: float | None = None
    rx_level: int | None = None


def dial_view(dial: Dial) -> DialView:
    return DialView(
        id=dial.id,
        sip_uri=dial.sip_uri,
        purpose=dial.purpose,
        leg_id=dial.leg_id,
        status=dial.status,
        requested_at=dial.requested_at,
        connected_at=dial.connected_at,
        ended_at=dial.ended_at,
        final_status=dial.final_status,
        answer_ms=dial.answer_ms,
        codec=dial.codec,
        end_reason=dial.end_reason,
        cause=dial.cause,
        last_media_at=dial.last_media_at,
        hangup_requested_at=dial.hangup_requested_at,
        provisional_ms=dial.provisional_ms,
        call_id=dial.call_id,
        detail=dial.detail,
        rtp_packets_received=dial.rtp_packets_received,
        updated_at=dial.updated_at,
        tx_packets=dial.tx_packets,
        loss_pct=dial.loss_pct,
        jitter_ms=dial.jitter_ms,
        rx_level=dial.rx_level,
    )


async def request_dial(
    session: AsyncSession,
    *,
    sip_uri: str,
    purpose: str,
    leg_id: int | None = None,
    answer_timeout_seconds: float | None = None,
    conference_id: int | None = None,
) -> DialView:
    """Queue a call to `sip_uri`; it stays up until the far end hangs up, media stops for
    BRIDGEDESK_NO_MEDIA_SECONDS, or `request_hangup` is called. Calls of one
    `conference_id` are held by one engine process and hear each other; the purpose sets
    the order the engine serves it in (recovery first).

    A URI the dial policy refuses (SPEC §5 "What may be dialed") does not raise: the dial is
    stored already ended ("undialable", with the reason), so the leg that asked fails with a
    cause and the launch or supervision pass that asked goes on with the others. Only a value
    that is no address at all (a caller's bug) raises.
    """
    problem = address_problem(sip_uri)
    if problem:
        raise InvalidInput(problem, field="sip_uri")
    check_purpose_and_timeout(purpose, answer_timeout_seconds)
    refused = (await registry.dial_policy(session)).problem(sip_uri)
    now = utcnow()
    dial = Dial(
        sip_uri=sip_uri,
        purpose=purpose,
        leg_id=leg_id,
        conference_id=conference_id,
        work_class=int(dial_class(purpose)),
        answer_timeout_seconds=answer_timeout_seconds,
        status="queued",
        requested_at=now,
        updated_at=now,
        rtp_packets_received=0,
    )
    if refused:
        dial.status = "ended"
        dial.ended_at = now
        dial.end_reason = UNDIALABLE
        dial.cause = UNDIALABLE_CAUSE
        dial.detail = f"not dialed: {refused}"[:300]
    session.add(dial)
    await session.flush()
    return dial_view(dial)


async def undialable_reason(session: AsyncSession, sip_uri: str) -> str | None:
    """Why `sip_uri` may not be dialed (no address at all, or the dial policy refuses it),
    or None: the one check a leg makes before it asks for a call."""
    return address_problem(sip_uri) or (await registry.dial_policy(session)).problem(sip_uri)


async def request_hangup(session: AsyncSession, dial_id: int) -> None:
    """Ask the engine to end the call; a dial no worker has taken yet simply ends here.
    Asking again, or for an ended dial, changes nothing."""
    dial = await session.get(Dial, dial_id, with_for_update=True)
    if dial is None:
        raise DialNotFound()
    if dial.status == "ended" or dial.hangup_requested_at is not None:
        return
    now = utcnow()
    dial.hangup_requested_at = now
    dial.updated_at = now
    if dial.status == "queued":
        dial.status = "ended"
        dial.ended_at = now
        dial.end_reason = "hangup"
        dial.detail = "hung up before it was dialed"
    await session.flush()


async def get_dials(session: AsyncSession, dial_ids: Collection[int]) -> dict[int, DialView]:
    wanted = sorted(set(dial_ids))
    views: dict[int, DialView] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        for dial in (await session.scalars(select(Dial).where(Dial.id.in_(chunk)))).all():
            views[dial.id] = dial_view(dial)
    return views
