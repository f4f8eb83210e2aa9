"""Call-setup probes: queueing them for the SIP engine, reading their immutable results, and
operators' re-classification of a result's cause (kept apart so the result never changes)."""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal, get_args

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bridge.models import Probe, ProbeCauseChange, ProbeResult
from bridgedesk.clock import utcnow
from bridgedesk.errors import Conflict, InvalidInput, NotFound
from bridgedesk.identity import Actor
from bridgedesk.sip_uri import DialPolicy, address_problem
from reservations.service import registry


class Cause(StrEnum):
    """SPEC §5: why a call failed (or `ok`). The provider's own causes (reservations,
    technical support) are the call handling's; a probe never produces them."""

    OK = "ok"
    NETWORK = "network"
    CLIENT_NOT_SYNCHRONIZED = "client_not_synchronized"
    CLIENT_HARDWARE = "client_hardware"


ProbeMethod = Literal["INVITE", "OPTIONS"]
PROBE_METHODS: tuple[str, ...] = get_args(ProbeMethod)
MAX_HOLD_SECONDS = 60.0
MAX_ANSWER_TIMEOUT_SECONDS = 300.0
MAX_PURPOSE_LENGTH = 40
MAX_NOTE_LENGTH = 500


def cause_for_status(final_status: int | None) -> Cause:
    """SPEC §5's mapping of a final SIP answer (None: nothing answered) to a cause.

    408 is a timeout on the way, so it is the network's, like no answer at all; other 4xx and
    6xx mean the endpoint refused (busy, unknown, declined...): it is not synchronized with the
    booking; 5xx from the endpoint means its hardware or software is not able to take calls.
    """
    if final_status is None or final_status == 408:
        return Cause.NETWORK
    if 200 <= final_status < 300:
        return Cause.OK
    if 500 <= final_status < 600:
        return Cause.CLIENT_HARDWARE
    if 400 <= final_status < 700:
        return Cause.CLIENT_NOT_SYNCHRONIZED
    return Cause.NETWORK


class ProbeNotFound(NotFound):
    message = "No such probe."


class ProbeNotFinished(Conflict):
    message = "The probe has no result yet; its cause can be re-classified once it is done."


@dataclass(frozen=True)
class ProbeResultView:
    final_status: int | None
    provisional_ms: float | None
    answer_ms: float | None
    codec: str | None
    media_seconds: float
    rtp_packets_received: int
    call_id: str | None
    cause: str
    started_at: datetime
    finished_at: datetime
    passed: bool
    detail: str
    measured_cause: str = ""
    reclassified_at: datetime | None = None
    reclassified_by: int | None = None
    reclassification_note: str | None = None


@dataclass(frozen=True)
class ProbeView:
    id: int
    sip_uri: str
    method: str
    hold_seconds: float
    purpose: str
    status: str
    queued_at: datetime
    result: ProbeResultView | None
    attempts: int = 0


def _result_view(
    probe: Probe, result: ProbeResult, change: ProbeCauseChange | None
) -> ProbeResultView:
    cause = change.cause if change is not None else result.cause
    media_ok = probe.method != "INVITE" or probe.hold_seconds <= 0 or result.media_seconds > 0
    return ProbeResultView(
        final_status=result.final_status,
        provisional_ms=result.provisional_ms,
        answer_ms=result.answer_ms,
        codec=result.codec,
        media_seconds=result.media_seconds,
        rtp_packets_received=result.rtp_packets_received,
        call_id=result.call_id,
        cause=cause,
        started_at=result.started_at,
        finished_at=result.finished_at,
        passed=cause == Cause.OK and media_ok,
        detail=result.detail,
        measured_cause=result.cause,
        reclassified_at=change.changed_at if change else None,
        reclassified_by=change.changed_by if change else None,
        reclassification_note=change.note if change else None,
    )


def _view(probe: Probe, result: ProbeResult | None, change: ProbeCauseChange | None) -> ProbeView:
    return ProbeView(
        id=probe.id,
        sip_uri=probe.sip_uri,
        method=probe.method,
        hold_seconds=probe.hold_seconds,
        purpose=probe.purpose,
        status=probe.status,
        queued_at=probe.queued_at,
        result=_result_view(probe, result, change) if result is not None else None,
        attempts=probe.attempts,
    )


def _check_request(
    sip_uri: str, method: str, hold_seconds: float, purpose: str, timeout: float | None
) -> None:
    problem = address_problem(sip_uri)
    if problem:
        raise InvalidInput(problem, field="sip_uri")
    if method not in PROBE_METHODS:
        raise InvalidInput(f"method must be one of {', '.join(PROBE_METHODS)}.", field="method")
    if not 0 <= hold_seconds <= MAX_HOLD_SECONDS:
        raise InvalidInput(
            f"hold_seconds must be between 0 and {MAX_HOLD_SECONDS:g}.", field="hold_seconds"
        )
    check_purpose_and_timeout(purpose, timeout)


def check_purpose_and_timeout(purpose: str, timeout: float | None) -> None:
    """The rules a probe and a dial share for their purpose and answer timeout."""
    if not purpose or len(purpose) > MAX_PURPOSE_LENGTH:
        raise InvalidInput(f"purpose must be 1 to {MAX_PURPOSE_LENGTH} characters.")
    if timeout is not None and not 0 < timeout <= MAX_ANSWER_TIMEOUT_SECONDS:
        raise InvalidInput(
            f"answer_timeout_seconds must be above 0 and at most {MAX_ANSWER_TIMEOUT_SECONDS:g}."
        )


async def request_probe(
    session: AsyncSession,
    *,
    sip_uri: str,
    method: ProbeMethod = "INVITE",
    hold_seconds: float = 0.0,
    purpose: str = "api",
    answer_timeout_seconds: float | None = None,
    provider_bridge: bool = False,
) -> ProbeView:
    """Queue a probe; a SIP worker process takes it once the caller's transaction commits.

    The dial policy refuses what may not be dialed (422); `provider_bridge` is monitoring's
    ping of a registered bridge, the one caller that may aim at a bridge's own endpoint.
    """
    _check_request(sip_uri, method, hold_seconds, purpose, answer_timeout_seconds)
    policy = DialPolicy.from_settings() if provider_bridge else await registry.dial_policy(session)
    policy.check(sip_uri)
    probe = Probe(
        sip_uri=sip_uri,
        method=method,
        hold_seconds=float(hold_seconds),
        purpose=purpose,
        answer_timeout_seconds=answer_timeout_seconds,
        status="queued",
        queued_at=utcnow(),
        attempts=0,
    )
    session.add(probe)
    await session.flush()
    return _view(probe, None, None)


async def get_probes(session: AsyncSession, probe_ids: Collection[int]) -> dict[int, ProbeView]:
    """The probes among `probe_ids` that exist, with results and latest re-classifications."""
    wanted = sorted(set(probe_ids))
    views: dict[int, ProbeView] = {}
    for start in range(0, len(wanted), 500):  # keeps IN lists within every driver's limit
        chunk = wanted[start : start + 500]
        rows = (
            await session.execute(
                select(Probe, ProbeResult)
                .outerjoin(ProbeResult, ProbeResult.probe_id == Probe.id)
                .where(Probe.id.in_(chunk))
            )
        ).all()
        changes = await _latest_changes(session, chunk)
        for probe, result in rows:
            views[probe.id] = _view(probe, result, changes.get(probe.id))
    return views


async def get_probe(session: AsyncSession, probe_id: int) -> ProbeView:
    found = await get_probes(session, [probe_id])
    if probe_id not in found:
        raise ProbeNotFound()
    return found[probe_id]


async def _latest_changes(
    session: AsyncSession, probe_ids: Collection[int]
) -> dict[int, ProbeCauseChange]:
    changes = (
        await session.scalars(
            select(ProbeCauseChange)
            .where(ProbeCauseChange.probe_id.in_(list(probe_ids)))
            .order_by(ProbeCauseChange.changed_at, ProbeCauseChange.id)
        )
    ).all()
    return {change.probe_id: change for change in changes}  # the last one wins


async def reclassify_cause(
    session: AsyncSession, probe_id: int, cause: str, *, note: str = "", by: Actor | None
) -> ProbeView:
    """Record an operator's judgement of a finished probe's cause; the measured result stays."""
    try:
        new_cause = Cause(cause)
    except ValueError:
        raise InvalidInput(
            f"cause must be one of {', '.join(c.value for c in Cause)}.", field="cause"
        ) from None
    if len(note) > MAX_NOTE_LENGTH:
        raise InvalidInput(f"note has at most {MAX_NOTE_LENGTH} characters.", field="note")
    probe = await session.get(Probe, probe_id)
    if probe is None:
        raise ProbeNotFound()
    if probe.status != "done":
        raise ProbeNotFinished()
    session.add(
        ProbeCauseChange(
            probe_id=probe_id,
            cause=new_cause.value,
            note=note,
            changed_by=by.user_id if by else None,
            changed_at=utcnow(),
        )
    )
    await session.flush()
    return await get_probe(session, probe_id)
