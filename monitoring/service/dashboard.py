"""The figures behind the dashboard, the public status page and /metrics."""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bridge.service import legs
from bridgedesk.clock import utcnow
from bridgedesk.identity import Actor
from bridgedesk.models import OutboxMessage
from monitoring.models import COMPONENTS, MaintenanceWindow, ProbeTarget
from monitoring.service import breaches, uptime
from monitoring.service.callstats import CauseCount, call_statistics
from monitoring.service.desk_figures import DeskFigures, month_desk_figures
from monitoring.service.intervals import Interval
from monitoring.service.sla import SEVERITIES
from reservations.service import confirmation

# "99 % of bookings confirmed by their deadline" is the share the monthly report shows; the
# deadline itself is the commitment, so the chart's target is all of them.
CONFIRMATION_TARGET_PCT = Decimal("100")
CERTIFICATION_TARGET_PCT = Decimal("100")
# A component with no sample for this long is shown as "unknown" on the status page.
STALE_AFTER = timedelta(minutes=5)

# Certification is a sibling package monitoring may not import; the app wiring may register a
# function giving, for each month ("YYYY-MM", reporting zone), the percentage of certification
# deadlines met (None for a month without any), e.g. from certification's monthly figure.
CertificationFigures = Callable[[AsyncSession, Sequence[str]], Awaitable[list[float | None]]]
_certification_figures: list[CertificationFigures] = []


def register_certification_figures(provider: CertificationFigures) -> None:
    _certification_figures[:] = [provider]


def last_months(now: datetime, count: int) -> list[tuple[str, Interval]]:
    zone = uptime.reporting_zone()
    local = now.astimezone(zone)
    year, month = local.year, local.month
    out = []
    for _ in range(count):
        out.append((f"{year:04d}-{month:02d}", uptime.month_span(year, month, zone)))
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return list(reversed(out))


@dataclass
class Dashboard:
    months: list[str]
    availability: dict[str, list[uptime.UptimeReport]]
    failures: list[CauseCount]
    failure_rate_pct: Decimal | None
    calls: int
    on_time: list[float | None]
    confirmations: list[float | None]
    certification: list[float | None] | None
    tickets_by_severity: dict[str, dict[str, int]]
    breaches: dict[str, int]
    notes: list[str] = field(default_factory=list)
    # The help desk's figures per month (phone within 60 s, email within 24 h, on time).
    desk: list[DeskFigures] = field(default_factory=list)


async def confirmation_share(
    session: AsyncSession, span: Interval, now: datetime, *, by: Actor
) -> float | None:
    """Of bookings whose confirmation deadline fell in the span and has passed (or that were
    confirmed), the share confirmed by it: reservations' figure."""
    figure = await confirmation.confirmation_figure(
        session, start=span.start, end=span.end, now=now
    )
    return float(figure.share_pct) if figure.share_pct is not None else None


async def build(session: AsyncSession, *, by: Actor, months: int = 6) -> Dashboard:
    now = utcnow()
    spans = last_months(now, months)
    availability = {
        component: [await uptime.monthly_report(session, component, m, now=now) for m, _ in spans]
        for component in COMPONENTS
    }
    on_time: list[float | None] = []
    for _, span in spans:
        launched = await legs.launches(session, start=span.start, end=span.end)
        share = call_statistics([], [], launched, []).on_time_pct
        on_time.append(float(share) if share is not None else None)
    this_month = spans[-1][1]
    attempts = await legs.call_attempts(session, start=this_month.start, end=this_month.end)
    stats = call_statistics([], attempts, [], [])
    notes: list[str] = []
    confirmations = [await confirmation_share(session, span, now, by=by) for _, span in spans]
    certification = None
    if _certification_figures:
        certification = await _certification_figures[0](session, [m for m, _ in spans])
    else:
        notes.append("Certification deadlines are not reported to this dashboard yet.")
    counts = await breaches.counts_by_severity(session)
    by_severity = {
        severity: {
            "open": sum(
                n for (sev, status), n in counts.items() if sev == severity and status != "resolved"
            ),
            "resolved": counts.get((severity, "resolved"), 0),
        }
        for severity in SEVERITIES
    }
    breach_counts = await breaches.breach_counts(session)
    missed_by_kind = {
        kind: sum(n for (_, k), n in breach_counts.items() if k == kind)
        for kind in breaches.BREACH_KINDS
    }
    return Dashboard(
        months=[m for m, _ in spans],
        availability=availability,
        failures=stats.failures_by_cause,
        failure_rate_pct=stats.failure_rate_pct,
        calls=stats.calls,
        on_time=on_time,
        confirmations=confirmations,
        certification=certification,
        tickets_by_severity=by_severity,
        breaches=missed_by_kind,
        notes=notes,
        desk=[
            await month_desk_figures(session, month=month, customer_id=None) for month, _ in spans
        ],
    )


@dataclass(frozen=True)
class ComponentState:
    component: str
    state: str  # "up" | "down" | "maintenance" | "unknown"
    since: datetime | None
    detail: str


async def component_states(session: AsyncSession) -> list[ComponentState]:
    now = utcnow()
    targets = (await session.scalars(select(ProbeTarget))).all()
    open_outages = await uptime.open_outages(session)
    windows = await upcoming_maintenance(session)
    states = []
    for component in COMPONENTS:
        mine = [t for t in targets if t.component == component]
        fresh = [t for t in mine if t.last_sample_at and now - t.last_sample_at <= STALE_AFTER]
        down = [o for o in open_outages if o.component == component]
        working = [w for w in windows if w.component == component and w.starts_at <= now]
        if working:
            states.append(
                ComponentState(component, "maintenance", working[0].starts_at, working[0].reason)
            )
        elif down:
            states.append(
                ComponentState(component, "down", min(o.started_at for o in down), "outage open")
            )
        elif fresh:
            states.append(
                ComponentState(
                    component,
                    "up",
                    max(t.last_sample_at for t in fresh if t.last_sample_at),
                    "answering probes",
                )
            )
        else:
            states.append(ComponentState(component, "unknown", None, "no recent probe"))
    return states


async def upcoming_maintenance(session: AsyncSession) -> Sequence[MaintenanceWindow]:
    return (
        await session.scalars(
            select(MaintenanceWindow)
            .where(MaintenanceWindow.cancelled_at.is_(None), MaintenanceWindow.ends_at > utcnow())
            .order_by(MaintenanceWindow.starts_at)
            .limit(50)
        )
    ).all()


async def outbox_backlog(session: AsyncSession) -> int:
    return (
        await session.scalar(
            select(func.count(OutboxMessage.id)).where(
                OutboxMessage.sent_at.is_(None), OutboxMessage.failed_at.is_(None)
            )
        )
        or 0
    )
