"""The uptime prober's state machine: each minute's samples fold into per-target state
(consecutive failures, the open outage), and only intervals are stored: outages, and the
spans during which the prober was producing samples (the rest of a month is unmonitored).

Two failures in a row open an outage that starts at the first of them; the first success
closes it. A probe the SIP engine never answered is no sample at all (unmonitored time),
not a failure. Rounds are idempotent per minute (a second run in the same minute does
nothing). For the bridge component every bridge is a target, and the component is down
while any of them is: a customer booked on that bridge cannot hold the meeting.
"""

from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import httpx
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bridge.service import probes
from bridgedesk import isolation
from bridgedesk.db import add_unique
from bridgedesk.errors import Conflict, DomainError
from monitoring.models import MonitoredSpan, Outage, PendingProbe, ProbeRound, ProbeTarget
from monitoring.service.paging import page_on_call
from reservations.service import registry

MINUTE = timedelta(minutes=1)
# A failure this long after the previous sample does not continue its run: the prober was
# away in between, so the two are not "in a row".
RUN_GAP = timedelta(minutes=3)
# A queued OPTIONS probe not done by then is given up: that minute stays unmonitored.
PROBE_PATIENCE = timedelta(minutes=3)
FAILURES_TO_OPEN = 2


class _RoundAlreadyRan(Conflict):
    message = "This minute's probe round already ran."


@dataclass(frozen=True)
class ProbeOutcome:
    done: bool
    ok: bool
    detail: str


class ProbeClient(Protocol):
    """What the prober needs of the bridge package's probe queue."""

    async def request(self, session: AsyncSession, sip_uri: str) -> int | None: ...

    async def collect(
        self, session: AsyncSession, probe_ids: Collection[int]
    ) -> dict[int, ProbeOutcome]: ...


class BridgeProbeClient:
    """SIP OPTIONS through `bridge.service.probes`; a URI it refuses gives no probe, hence no
    sample, which the report shows as unmonitored."""

    async def request(self, session: AsyncSession, sip_uri: str) -> int | None:
        try:
            view = await probes.request_probe(
                session, sip_uri=sip_uri, method="OPTIONS", purpose="uptime", provider_bridge=True
            )
        except DomainError:
            return None
        return int(view.id)

    async def collect(
        self, session: AsyncSession, probe_ids: Collection[int]
    ) -> dict[int, ProbeOutcome]:
        if not probe_ids:
            return {}
        views = await probes.get_probes(session, list(probe_ids))
        out: dict[int, ProbeOutcome] = {}
        for probe_id, view in views.items():
            result = view.result
            if view.status != "done" or result is None:
                out[probe_id] = ProbeOutcome(False, False, view.status)
                continue
            ok = bool(result.passed) or result.final_status == 200
            out[probe_id] = ProbeOutcome(True, ok, str(result.detail or result.cause))
        return out


HealthCheck = Callable[[str, float], Awaitable[tuple[bool, str]]]


async def http_health(url: str, timeout_seconds: float) -> tuple[bool, str]:
    """GET the reservation site's health URL: 2xx is up, anything else (or silence) down."""
    try:
        async with httpx.AsyncClient(timeout=timeout_seconds) as client:
            response = await client.get(url)
    except httpx.HTTPError as error:
        return False, f"{type(error).__name__}: {error}"[:300]
    return response.is_success, f"HTTP {response.status_code}"


def minute_of(instant: datetime) -> datetime:
    return instant.replace(second=0, microsecond=0)


States = dict[tuple[str, str], ProbeTarget]


async def load_states(session: AsyncSession) -> States:
    """Every target's state in one query (a round folds many samples)."""
    return {(s.component, s.target): s for s in await session.scalars(select(ProbeTarget))}


async def _target(
    session: AsyncSession, component: str, target: str, states: States | None
) -> ProbeTarget:
    state = (states or {}).get((component, target))
    if state is None:
        state = await session.scalar(
            select(ProbeTarget).where(
                ProbeTarget.component == component, ProbeTarget.target == target
            )
        )
    if state is None:
        state = ProbeTarget(component=component, target=target, consecutive_failures=0)
        session.add(state)
        await session.flush()
    if states is not None:
        states[(component, target)] = state
    return state


async def record_sample(
    session: AsyncSession,
    component: str,
    target: str,
    at: datetime,
    ok: bool,
    detail: str = "",
    *,
    states: States | None = None,
) -> ProbeTarget:
    """Fold one sample (taken in the minute starting `at`) into the target's state."""
    state = await _target(session, component, target, states)
    if state.last_sample_at is not None and at <= state.last_sample_at:
        return state  # already counted (or older than what is known): idempotent
    if state.last_sample_at is not None and at - state.last_sample_at > RUN_GAP:
        state.consecutive_failures = 0
        state.first_failure_at = None
    if ok:
        if state.open_outage_id is not None:
            outage = await session.get(Outage, state.open_outage_id)
            if outage is not None:
                outage.ended_at = at
            state.open_outage_id = None
        state.consecutive_failures = 0
        state.first_failure_at = None
    else:
        state.consecutive_failures += 1
        if state.consecutive_failures == 1:
            state.first_failure_at = at
        if state.consecutive_failures >= FAILURES_TO_OPEN and state.open_outage_id is None:
            outage = Outage(
                component=component,
                target=target,
                source="probe",
                started_at=state.first_failure_at or at,
                ended_at=None,
                force_majeure=False,
                note=detail[:300] or None,
                created_at=at,
            )
            session.add(outage)
            await session.flush()
            state.open_outage_id = outage.id
            if component == "bridge":
                await page_on_call(
                    session,
                    "bridge_outage",
                    summary=f"Bridge {target} down since {outage.started_at.isoformat()}",
                    dedupe_key=f"outage-{outage.id}",
                    at=outage.started_at,
                    outage_id=outage.id,
                    target=target,
                )
    state.last_sample_at = at
    state.last_ok = ok
    state.last_detail = detail[:300] or None
    return state  # flushed with the round (or by the caller's next query)


async def record_coverage(
    session: AsyncSession, component: str, start: datetime, end: datetime
) -> None:
    """Mark [start, end) monitored, extending the span it touches instead of adding rows."""
    span = await session.scalar(
        select(MonitoredSpan)
        .where(
            MonitoredSpan.component == component,
            MonitoredSpan.ended_at >= start,
            MonitoredSpan.started_at <= end,
        )
        .order_by(MonitoredSpan.ended_at.desc())
        .limit(1)
    )
    if span is None:
        session.add(MonitoredSpan(component=component, started_at=start, ended_at=end))
    else:
        span.started_at = min(span.started_at, start)
        span.ended_at = max(span.ended_at, end)
    await session.flush()


async def _collect_bridge_probes(
    session: AsyncSession, client: ProbeClient, minute: datetime, states: States
) -> int:
    pending = (
        await session.scalars(
            select(PendingProbe)
            .where(PendingProbe.minute < minute)
            .order_by(PendingProbe.minute, PendingProbe.id)
        )
    ).all()
    if not pending:
        return 0
    outcomes = await client.collect(session, [p.probe_id for p in pending])
    by_minute: dict[datetime, list[PendingProbe]] = {}
    for probe in pending:
        by_minute.setdefault(probe.minute, []).append(probe)
    samples = 0
    finished: list[int] = []
    for probe_minute, group in sorted(by_minute.items()):
        done = [p for p in group if outcomes.get(p.probe_id, ProbeOutcome(False, False, "")).done]
        expired = minute - probe_minute >= PROBE_PATIENCE
        if len(done) < len(group) and not expired:
            continue  # wait for the rest of that minute's answers
        for probe in done:
            outcome = outcomes[probe.probe_id]
            await record_sample(
                session,
                probe.component,
                probe.target,
                probe_minute,
                outcome.ok,
                outcome.detail,
                states=states,
            )
            samples += 1
        if done and len(done) == len(group):
            await record_coverage(session, "bridge", probe_minute, probe_minute + MINUTE)
        finished.extend(p.id for p in group)
    if finished:
        await session.execute(delete(PendingProbe).where(PendingProbe.id.in_(finished)))
    return samples


async def probe_round(
    session: AsyncSession,
    now: datetime,
    *,
    client: ProbeClient,
    health: tuple[str, bool, str] | None,
) -> int:
    """One minute's round: the reservations sample (already taken, `health` = (url, ok,
    detail); None when the check could not run), collecting earlier OPTIONS answers and
    queueing this minute's. Returns the number of samples folded in; 0 if the minute ran."""
    minute = minute_of(now)
    try:
        await add_unique(session, ProbeRound(minute=minute, ran_at=now), _RoundAlreadyRan())
    except _RoundAlreadyRan:
        return 0
    samples = 0
    states = await load_states(session)
    if health is not None:
        url, ok, detail = health
        await record_sample(session, "reservations", url, minute, ok, detail, states=states)
        await record_coverage(session, "reservations", minute, minute + MINUTE)
        samples += 1
    samples += await _collect_bridge_probes(session, client, minute, states)

    async def queue_probe(bridge_uri: str) -> None:
        probe_id = await client.request(session, bridge_uri)
        if probe_id is not None:
            session.add(
                PendingProbe(
                    probe_id=probe_id, component="bridge", target=bridge_uri, minute=minute
                )
            )
            await session.flush()

    await isolation.each_in_savepoint(
        session,
        [bridge.sip_uri for bridge in await registry.list_bridges(session)],
        queue_probe,
        job="probe_uptime",
        name=lambda uri: f"bridge {uri}",
    )
    await session.flush()
    return samples


async def current_states(session: AsyncSession) -> Sequence[ProbeTarget]:
    return (
        await session.scalars(
            select(ProbeTarget).order_by(ProbeTarget.component, ProbeTarget.target)
        )
    ).all()
