"""Monthly availability per component (SPEC §6) by interval algebra over stored outages,
maintenance windows and monitored spans; and recording outages by hand."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bridgedesk.clock import utcnow
from bridgedesk.errors import Forbidden, InvalidInput, NotFound
from bridgedesk.identity import Actor, Role
from bridgedesk.settings import get_settings
from monitoring.models import COMPONENTS, MaintenanceWindow, MonitoredSpan, Outage
from monitoring.service.intervals import Interval, clip, difference, intersection, total, union

# "Service available >= 99 % each month, excluding scheduled maintenance and force majeure."
UPTIME_TARGET_PCT = Decimal("99")
# Minutes are reported to the hundredth, availability to the thousandth of a percent; every
# figure is computed from exact seconds and rounded once, half up, when it is shown.
MINUTES_PLACES = Decimal("0.01")
PERCENT_PLACES = Decimal("0.001")

OUTAGE_MANAGERS = frozenset({Role.ADMIN, Role.OPERATOR})


class OutageNotFound(NotFound):
    message = "No such outage."


def _minutes(span: timedelta) -> Decimal:
    return (Decimal(int(span.total_seconds() * 1_000_000)) / 60_000_000).quantize(
        MINUTES_PLACES, ROUND_HALF_UP
    )


def check_component(component: str) -> str:
    if component not in COMPONENTS:
        raise InvalidInput(f"component must be one of {', '.join(COMPONENTS)}.")
    return component


def reporting_zone() -> ZoneInfo:
    return ZoneInfo(get_settings().reporting_timezone)


def parse_month(text: str) -> tuple[int, int]:
    try:
        year_text, month_text = text.split("-")
        year, month = int(year_text), int(month_text)
        if len(year_text) != 4 or not 1 <= month <= 12 or not 1970 <= year <= 9000:
            raise ValueError
    except ValueError:
        raise InvalidInput("month must be YYYY-MM.") from None
    return year, month


def month_span(year: int, month: int, zone: ZoneInfo) -> Interval:
    """The calendar month as UTC instants: local midnight of the 1st to the next 1st."""
    following = (year + 1, 1) if month == 12 else (year, month + 1)
    start = datetime(year, month, 1, tzinfo=zone).astimezone(ZoneInfo("UTC"))
    end = datetime(*following, 1, tzinfo=zone).astimezone(ZoneInfo("UTC"))
    return Interval(start, end)


@dataclass(frozen=True)
class OutageFact:
    id: int
    start: datetime
    end: datetime | None  # still open
    source: str  # "probe" | "manual"
    force_majeure: bool
    target: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class WindowFact:
    id: int
    start: datetime
    end: datetime
    notified_at: datetime
    reason: str = ""


@dataclass(frozen=True)
class ReportInterval:
    kind: str  # outage | manual_outage | force_majeure | maintenance | unmonitored
    start: datetime
    end: datetime
    # downtime | excluded | unmonitored | not_counted
    counted_as: str
    counted_minutes: Decimal
    id: int | None = None
    notified_at: datetime | None = None
    notice_ok: bool | None = None
    note: str | None = None


@dataclass(frozen=True)
class UptimeReport:
    component: str
    month: str
    timezone: str
    minutes_in_month: Decimal
    excluded_minutes: Decimal
    eligible_minutes: Decimal
    downtime_minutes: Decimal
    unmonitored_minutes: Decimal
    availability_pct: Decimal
    target_pct: Decimal
    met: bool
    budget_left_minutes: Decimal
    notice_hours: int
    intervals: list[ReportInterval] = field(default_factory=list)


def notified_in_time(notified_at: datetime, start: datetime, notice: timedelta) -> bool:
    """A maintenance window is excluded only if customers heard of it `notice` before it
    began (SPEC §6); otherwise its time is downtime."""
    return notified_at <= start - notice


def compute_report(
    *,
    component: str,
    month: str,
    span: Interval,
    zone_name: str,
    outages: Sequence[OutageFact],
    windows: Sequence[WindowFact],
    monitored: Sequence[Interval],
    notice: timedelta,
    now: datetime,
) -> UptimeReport:
    """The month's figures, from intervals alone (pure; the tests compute months by hand).

    eligible = month - (well-notified maintenance + force majeure); downtime = (probed
    outages within monitored time + manual outages + maintenance notified too late) outside
    the exclusions; unmonitored = elapsed eligible time neither monitored nor known down.
    """
    elapsed = Interval(span.start, min(max(now, span.start), span.end))

    def bounded(fact: OutageFact) -> Interval:
        return Interval(fact.start, fact.end if fact.end is not None else max(now, fact.start))

    force_majeure = clip([bounded(o) for o in outages if o.force_majeure], span)
    on_notice = [w for w in windows if notified_in_time(w.notified_at, w.start, notice)]
    late = [w for w in windows if not notified_in_time(w.notified_at, w.start, notice)]
    excluded = union(force_majeure, clip([Interval(w.start, w.end) for w in on_notice], span))
    watched = clip(monitored, span)
    probed = intersection([bounded(o) for o in outages if o.source == "probe"], watched)
    manual = [bounded(o) for o in outages if o.source != "probe" and not o.force_majeure]
    late_time = [Interval(w.start, w.end) for w in late]
    # Only time that has passed can have been down (a late-announced window next week is
    # downtime once it happens, not before).
    downtime = clip(difference(union(probed, manual, late_time), excluded), elapsed)
    unmonitored = difference(clip([elapsed], span), union(excluded, watched, downtime))

    month_length = span.length
    excluded_length = total(excluded)
    eligible = month_length - excluded_length
    down = total(downtime)
    eligible_s = Decimal(int(eligible.total_seconds()))
    down_s = Decimal(int(down.total_seconds()))
    if eligible_s > 0:
        availability = ((eligible_s - down_s) * 100 / eligible_s).quantize(
            PERCENT_PLACES, ROUND_HALF_UP
        )
    else:
        availability = Decimal(100).quantize(PERCENT_PLACES)
    met = (eligible_s - down_s) * 100 >= UPTIME_TARGET_PCT * eligible_s
    budget = ((eligible_s * (100 - UPTIME_TARGET_PCT) / 100 - down_s) / 60).quantize(
        MINUTES_PLACES, ROUND_HALF_UP
    )

    listed: list[ReportInterval] = []
    for o in outages:
        piece = clip([bounded(o)], span)
        if not piece:
            continue
        interval = piece[0]
        kind = (
            "force_majeure"
            if o.force_majeure
            else ("outage" if o.source == "probe" else "manual_outage")
        )
        if o.force_majeure:
            counted, minutes = "excluded", _minutes(interval.length)
        else:
            counts = intersection([interval], downtime)
            counted = "downtime" if counts else "not_counted"
            minutes = _minutes(total(counts))
        listed.append(
            ReportInterval(
                kind, interval.start, interval.end, counted, minutes, id=o.id, note=o.note
            )
        )
    for w in windows:
        piece = clip([Interval(w.start, w.end)], span)
        if not piece:
            continue
        interval = piece[0]
        ok = notified_in_time(w.notified_at, w.start, notice)
        listed.append(
            ReportInterval(
                "maintenance",
                interval.start,
                interval.end,
                "excluded" if ok else "downtime",
                _minutes(total(intersection([interval], excluded if ok else downtime))),
                id=w.id,
                notified_at=w.notified_at,
                notice_ok=ok,
                note=w.reason,
            )
        )
    for gap in unmonitored:
        listed.append(
            ReportInterval("unmonitored", gap.start, gap.end, "unmonitored", _minutes(gap.length))
        )
    listed.sort(key=lambda i: (i.start, i.end, i.kind))
    return UptimeReport(
        component=component,
        month=month,
        timezone=zone_name,
        minutes_in_month=_minutes(month_length),
        excluded_minutes=_minutes(excluded_length),
        eligible_minutes=_minutes(eligible),
        downtime_minutes=_minutes(down),
        unmonitored_minutes=_minutes(total(unmonitored)),
        availability_pct=availability,
        target_pct=UPTIME_TARGET_PCT,
        met=met,
        budget_left_minutes=budget,
        notice_hours=int(notice.total_seconds() // 3600),
        intervals=listed,
    )


async def load_outages(session: AsyncSession, component: str, span: Interval) -> list[OutageFact]:
    rows = await session.scalars(
        select(Outage)
        .where(
            Outage.component == component,
            Outage.started_at < span.end,
            or_(Outage.ended_at.is_(None), Outage.ended_at > span.start),
        )
        .order_by(Outage.started_at, Outage.id)
    )
    return [
        OutageFact(o.id, o.started_at, o.ended_at, o.source, o.force_majeure, o.target, o.note)
        for o in rows
    ]


async def load_windows(session: AsyncSession, component: str, span: Interval) -> list[WindowFact]:
    rows = await session.scalars(
        select(MaintenanceWindow)
        .where(
            MaintenanceWindow.component == component,
            MaintenanceWindow.cancelled_at.is_(None),
            MaintenanceWindow.starts_at < span.end,
            MaintenanceWindow.ends_at > span.start,
        )
        .order_by(MaintenanceWindow.starts_at, MaintenanceWindow.id)
    )
    return [WindowFact(w.id, w.starts_at, w.ends_at, w.notified_at, w.reason) for w in rows]


async def load_monitored(session: AsyncSession, component: str, span: Interval) -> list[Interval]:
    rows = await session.execute(
        select(MonitoredSpan.started_at, MonitoredSpan.ended_at).where(
            MonitoredSpan.component == component,
            MonitoredSpan.started_at < span.end,
            MonitoredSpan.ended_at > span.start,
        )
    )
    return [Interval(start, end) for start, end in rows]


async def monthly_report(
    session: AsyncSession, component: str, month: str, *, now: datetime | None = None
) -> UptimeReport:
    check_component(component)
    year, number = parse_month(month)
    settings = get_settings()
    zone = reporting_zone()
    span = month_span(year, number, zone)
    return compute_report(
        component=component,
        month=f"{year:04d}-{number:02d}",
        span=span,
        zone_name=settings.reporting_timezone,
        outages=await load_outages(session, component, span),
        windows=await load_windows(session, component, span),
        monitored=await load_monitored(session, component, span),
        notice=timedelta(hours=settings.maintenance_notice_hours),
        now=now or utcnow(),
    )


@dataclass(frozen=True)
class ManualOutage:
    component: str
    start: datetime
    end: datetime
    force_majeure: bool = False
    note: str | None = None


async def record_outage(session: AsyncSession, data: ManualOutage, *, by: Actor) -> Outage:
    """An outage recorded by hand (e.g. from a customer's report), possibly force majeure."""
    if by.role not in OUTAGE_MANAGERS:
        raise Forbidden("Only operators and admins record outages.")
    check_component(data.component)
    if data.end <= data.start:
        raise InvalidInput("end must be after start.")
    if data.end > utcnow():
        raise InvalidInput("An outage is recorded once it is over: end must not be in the future.")
    outage = Outage(
        component=data.component,
        target=None,
        source="manual",
        started_at=data.start,
        ended_at=data.end,
        force_majeure=data.force_majeure,
        note=data.note,
        recorded_by=by.name,
        created_at=utcnow(),
    )
    session.add(outage)
    await session.flush()
    return outage


async def classify_outage(
    session: AsyncSession,
    outage_id: int,
    *,
    force_majeure: bool | None,
    note: str | None,
    by: Actor,
) -> Outage:
    """Mark an outage (probed or manual) force majeure, or not, and annotate it."""
    if by.role not in OUTAGE_MANAGERS:
        raise Forbidden("Only operators and admins classify outages.")
    outage = await session.get(Outage, outage_id)
    if outage is None:
        raise OutageNotFound()
    if force_majeure is not None:
        outage.force_majeure = force_majeure
    if note is not None:
        outage.note = note
    await session.flush()
    return outage


async def list_outages(
    session: AsyncSession, *, by: Actor, component: str | None, month: str | None
) -> list[Outage]:
    """The outage records (of a reporting month, if given) themselves are for provider staff;
    customers read the report."""
    if not by.is_provider:
        raise Forbidden("Outage records are for provider staff; see /api/v1/uptime.")
    query = select(Outage).order_by(Outage.started_at.desc(), Outage.id.desc()).limit(500)
    if component is not None:
        query = query.where(Outage.component == check_component(component))
    if month is not None:
        span = month_span(*parse_month(month), reporting_zone())
        query = query.where(
            Outage.started_at < span.end,
            or_(Outage.ended_at.is_(None), Outage.ended_at > span.start),
        )
    return list((await session.scalars(query)).all())


async def open_outages(session: AsyncSession) -> list[Outage]:
    return list(
        (
            await session.scalars(
                select(Outage).where(Outage.ended_at.is_(None)).order_by(Outage.started_at)
            )
        ).all()
    )
