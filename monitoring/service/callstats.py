"""Call statistics per month and customer (SPEC §6): failures by cause against the 3 %
target, on-time launches, recovery within 5 minutes, ad hoc and add-site turnaround.

The arithmetic is a pure function over the bridge package's records (anything shaped like
`bridge.service.legs`' CallAttempt, LaunchRecord and Incident), so it is tested on its own.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from statistics import median
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bridge.service import legs
from bridgedesk.identity import Actor
from monitoring.service.uptime import month_span, parse_month
from reservations.models import ConferenceStatus
from reservations.service import queries, registry

# (cause, label, the provider's own?) — SPEC §1's categories, with the historical shares
# 69 / 27 / 2 / 1 / 1 %. The provider's own causes are reported apart.
FAILURE_CAUSES: tuple[tuple[str, str, bool], ...] = (
    ("client_not_synchronized", "Client not synchronized", False),
    ("network", "Network", False),
    ("client_hardware", "Client hardware", False),
    ("reservations", "Reservations (participants added during the call)", True),
    ("technical_support", "Technical support", True),
)
# "Fewer than 3 % of calls fail."
FAILED_CALLS_TARGET_PCT = Decimal("3")
# "99 % of calls start on time."
ON_TIME_TARGET_PCT = Decimal("99")
# "99 % of failed, dropped and late calls restored in under 5 min."
RESTORED_TARGET_PCT = Decimal("99")
RESTORE_WINDOW = timedelta(minutes=5)
# "Adding a site to a running meeting: 5 min per site"; ad hoc certified sites within 5 min.
ADD_SITE_TARGET = timedelta(minutes=5)
ADHOC_TARGET = timedelta(minutes=5)
PLACES = Decimal("0.01")
# What the bridge reports for a dial with no outcome yet.
UNDECIDED_CAUSES = frozenset({"ok", "pending"})


class AttemptLike(Protocol):
    @property
    def conference_id(self) -> int: ...
    @property
    def site_id(self) -> int: ...
    @property
    def purpose(self) -> str: ...
    @property
    def requested_at(self) -> datetime: ...
    @property
    def connected_at(self) -> datetime | None: ...
    @property
    def cause(self) -> str: ...


class LaunchLike(Protocol):
    @property
    def conference_id(self) -> int: ...
    @property
    def scheduled_start(self) -> datetime: ...
    @property
    def all_connected_at(self) -> datetime | None: ...
    @property
    def on_time(self) -> bool | None: ...


class IncidentLike(Protocol):
    @property
    def began_at(self) -> datetime: ...
    @property
    def restored_at(self) -> datetime | None: ...
    @property
    def audio_fallback_at(self) -> datetime | None: ...


@dataclass(frozen=True)
class ConferenceFact:
    id: int
    adhoc: bool
    booked_at: datetime
    ready_by: datetime | None


def pct(part: int, whole: int) -> Decimal | None:
    if whole == 0:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(PLACES, ROUND_HALF_UP)


@dataclass(frozen=True)
class CauseCount:
    cause: str
    label: str
    provider_side: bool
    count: int
    share_of_calls_pct: Decimal | None


@dataclass(frozen=True)
class Turnaround:
    count: int
    connected: int
    within_target: int
    within_target_pct: Decimal | None
    median_seconds: float | None
    max_seconds: float | None
    target_seconds: int


@dataclass
class CallStats:
    calls: int = 0
    failed_calls: int = 0
    failure_rate_pct: Decimal | None = None
    failure_target_pct: Decimal = FAILED_CALLS_TARGET_PCT
    failure_met: bool | None = None
    failures_by_cause: list[CauseCount] = field(default_factory=list)
    customer_side_failures: int = 0
    provider_side_failures: int = 0
    launches: int = 0
    launches_decided: int = 0
    launches_on_time: int = 0
    on_time_pct: Decimal | None = None
    on_time_target_pct: Decimal = ON_TIME_TARGET_PCT
    on_time_met: bool | None = None
    recovery_events: int = 0
    restored_within_5_min: int = 0
    restored_pct: Decimal | None = None
    restored_target_pct: Decimal = RESTORED_TARGET_PCT
    restored_met: bool | None = None
    # "If hardware or network makes reconnecting impossible, an audio link is added": the
    # drops not restored within the window, and how many of them got their audio link.
    drops_past_window: int = 0
    drops_with_audio_link: int = 0
    adhoc: Turnaround | None = None
    add_site: Turnaround | None = None


def _turnaround(
    pairs: Sequence[tuple[datetime, datetime | None, datetime]], target: int
) -> Turnaround:
    """pairs of (asked, connected or None, promised-by)."""
    waits = [(done - asked).total_seconds() for asked, done, _ in pairs if done is not None]
    within = sum(1 for _, done, due in pairs if done is not None and done <= due)
    return Turnaround(
        count=len(pairs),
        connected=len(waits),
        within_target=within,
        within_target_pct=pct(within, len(pairs)),
        median_seconds=float(median(waits)) if waits else None,
        max_seconds=max(waits) if waits else None,
        target_seconds=target,
    )


def call_statistics(
    conferences: Sequence[ConferenceFact],
    attempts: Sequence[AttemptLike],
    launches: Sequence[LaunchLike],
    incidents: Sequence[IncidentLike],
) -> CallStats:
    stats = CallStats()
    # A call is one dial of one site; one still ringing (no outcome yet) is not counted.
    decided = [a for a in attempts if a.connected_at is not None or a.cause not in UNDECIDED_CAUSES]
    failed = [a for a in decided if a.connected_at is None]
    stats.calls = len(decided)
    stats.failed_calls = len(failed)
    stats.failure_rate_pct = pct(len(failed), len(decided))
    if stats.failure_rate_pct is not None:
        stats.failure_met = stats.failure_rate_pct < FAILED_CALLS_TARGET_PCT
    known = {cause for cause, _, _ in FAILURE_CAUSES}
    causes = list(FAILURE_CAUSES)
    for other in sorted({a.cause for a in failed} - known):
        causes.append((other, other.replace("_", " ").capitalize(), False))
    for cause, label, own in causes:
        count = sum(1 for a in failed if a.cause == cause)
        stats.failures_by_cause.append(
            CauseCount(cause, label, own, count, pct(count, len(decided)))
        )
        if own:
            stats.provider_side_failures += count
        else:
            stats.customer_side_failures += count

    stats.launches = len(launches)
    judged = [launch for launch in launches if launch.on_time is not None]
    stats.launches_decided = len(judged)
    stats.launches_on_time = sum(1 for launch in judged if launch.on_time)
    stats.on_time_pct = pct(stats.launches_on_time, len(judged))
    if stats.on_time_pct is not None:
        stats.on_time_met = stats.on_time_pct >= ON_TIME_TARGET_PCT

    # Failed and dropped legs (incidents) and late launches, each restored or not in 5 min.
    restored = sum(
        1
        for i in incidents
        if i.restored_at is not None and i.restored_at - i.began_at < RESTORE_WINDOW
    )
    late = [launch for launch in judged if launch.on_time is False]
    restored += sum(
        1
        for launch in late
        if launch.all_connected_at is not None
        and launch.all_connected_at - launch.scheduled_start < RESTORE_WINDOW
    )
    stats.recovery_events = len(incidents) + len(late)
    stats.restored_within_5_min = restored
    stats.restored_pct = pct(restored, stats.recovery_events)
    if stats.restored_pct is not None:
        stats.restored_met = stats.restored_pct >= RESTORED_TARGET_PCT

    past_window = [
        i
        for i in incidents
        if i.restored_at is None or i.restored_at - i.began_at >= RESTORE_WINDOW
    ]
    stats.drops_past_window = len(past_window)
    stats.drops_with_audio_link = sum(1 for i in past_window if i.audio_fallback_at is not None)

    launch_by_conference = {launch.conference_id: launch for launch in launches}
    adhoc_pairs = []
    for conference in conferences:
        if not conference.adhoc:
            continue
        launch = launch_by_conference.get(conference.id)
        due = conference.ready_by or conference.booked_at + ADHOC_TARGET
        adhoc_pairs.append((conference.booked_at, launch.all_connected_at if launch else None, due))
    stats.adhoc = _turnaround(adhoc_pairs, int(ADHOC_TARGET.total_seconds()))

    first_add: dict[tuple[int, int], tuple[datetime, datetime | None]] = {}
    for a in sorted(attempts, key=lambda a: a.requested_at):
        if a.purpose != "add_site":
            continue
        key = (a.conference_id, a.site_id)
        asked, done = first_add.get(key, (a.requested_at, None))
        if done is None and a.connected_at is not None:
            done = a.connected_at
        first_add[key] = (asked, done)
    stats.add_site = _turnaround(
        [(asked, done, asked + ADD_SITE_TARGET) for asked, done in first_add.values()],
        int(ADD_SITE_TARGET.total_seconds()),
    )
    return stats


@dataclass(frozen=True)
class CustomerMonth:
    customer_id: int
    month: str
    timezone: str
    stats: CallStats


async def customer_month(
    session: AsyncSession, customer_id: int, month: str, *, by: Actor
) -> CustomerMonth:
    """The month (in the customer's zone) of the customer's conferences that started in it."""
    customer = await registry.get_customer(session, customer_id, by=by)
    year, number = parse_month(month)
    span = month_span(year, number, ZoneInfo(customer.timezone))
    found, _ = await queries.list_conferences(
        session,
        queries.ConferenceFilter(
            customer_id=customer.id, ends_after=span.start, starts_before=span.end, limit=100_000
        ),
        by=by,
    )
    conferences = [
        c
        for c in found
        if span.start <= c.starts_at < span.end and c.status != ConferenceStatus.CANCELLED
    ]
    facts = [ConferenceFact(c.id, c.adhoc, c.booked_at, c.ready_by) for c in conferences]
    ids = [c.id for c in conferences]
    attempts: list[Any] = []
    launches: list[Any] = []
    incidents: list[Any] = []
    if ids:
        # Calls of those conferences, including a launch dialled early or an overrun
        # past the month's end: the conferences choose the month, not the dial times.
        window = {"start": span.start - timedelta(days=1), "end": span.end + timedelta(days=2)}
        attempts = list(await legs.call_attempts(session, **window, conference_ids=ids))
        launches = list(await legs.launches(session, **window, conference_ids=ids))
        incidents = list(await legs.incidents(session, **window, conference_ids=ids))
    return CustomerMonth(
        customer_id=customer.id,
        month=f"{year:04d}-{number:02d}",
        timezone=customer.timezone,
        stats=call_statistics(facts, attempts, launches, incidents),
    )
