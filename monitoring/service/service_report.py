"""The monthly service report per customer (SPEC §6 "Service report"): every commitment of
SPEC §1 that applies to the customer, with its target, the measured value, met or missed, and
the intervals and events behind it. Each figure is taken from the service that owns it
(uptime, call statistics, reservations' confirmations, certification through the shell, the
desk); nothing is recomputed here."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bridgedesk.clock import utcnow
from bridgedesk.db import MAX_KEY
from bridgedesk.identity import Actor
from monitoring.models import COMPONENTS
from monitoring.service import callstats, desk_month, uptime
from monitoring.service.callstats import CallStats, Turnaround
from reservations.service import confirmation, registry

COMPONENT_LABELS = {"bridge": "Conference bridge", "reservations": "Reservation system"}


@dataclass(frozen=True)
class Commitment:
    key: str
    description: str
    target: str
    # The measured percentage, None when nothing happened to measure.
    figure: Decimal | None
    # None when there was nothing to judge this month.
    met: bool | None
    evidence: list[str] = field(default_factory=list)

    @property
    def value(self) -> str | None:
        """The figure as shown ("99.95 %")."""
        return _pct(self.figure)


@dataclass(frozen=True)
class CertificationMonth:
    """What certification reports for one customer's month (connected by the shell)."""

    certified: int
    on_time: int
    share_on_time_pct: Decimal | None
    evidence: list[str]


# Certification is a sibling monitoring may not import: the shell registers the function that
# gives a customer's month of sign-offs (bridgedesk/figures.py).
CertificationProvider = Callable[[AsyncSession, int, str], Awaitable[CertificationMonth]]
_certification_providers: list[CertificationProvider] = []


def register_certification(provider: CertificationProvider) -> None:
    _certification_providers[:] = [provider]


@dataclass(frozen=True)
class ServiceReport:
    customer_id: int
    customer_name: str
    month: str
    timezone: str
    generated_at: datetime
    commitments: list[Commitment]

    @property
    def missed(self) -> list[str]:
        return [c.key for c in self.commitments if c.met is False]


def _pct(value: Decimal | None) -> str | None:
    return None if value is None else f"{value} %"


def _uptime(report: uptime.UptimeReport) -> Commitment:
    evidence = [
        f"month in {report.timezone}: {report.eligible_minutes} eligible minutes "
        f"({report.minutes_in_month} in the month "
        f"less {report.excluded_minutes} excluded); {report.downtime_minutes} minutes down; "
        f"{report.budget_left_minutes} minutes of the month's budget left; "
        f"{report.unmonitored_minutes} minutes unmonitored (not counted)"
    ]
    for i in report.intervals:
        notice = (
            f", customers told {i.notified_at:%Y-%m-%d %H:%M} UTC"
            f" ({'in time' if i.notice_ok else 'too late'})"
            if i.notified_at
            else ""
        )
        evidence.append(
            f"{i.kind.replace('_', ' ')} {i.start:%Y-%m-%d %H:%M} to {i.end:%Y-%m-%d %H:%M} UTC: "
            f"{i.counted_minutes} min {i.counted_as.replace('_', ' ')}{notice}"
        )
    label = COMPONENT_LABELS.get(report.component, report.component)
    return Commitment(
        key=f"uptime_{report.component}",
        description=f"{label} available each month, excluding notified maintenance and "
        "force majeure",
        target=f"≥ {report.target_pct} %",
        figure=report.availability_pct,
        met=report.met,
        evidence=evidence,
    )


def _confirmation(figure: confirmation.ConfirmationFigure) -> Commitment:
    return Commitment(
        key="confirmation_deadlines",
        description="Bookings confirmed by their deadline (same or next day 1 h, 2 to 5 days "
        "4 h, 6+ days 8 h, later meetings of a series 48 h)",
        target="every booking by its deadline",
        figure=figure.share_pct,
        met=None if figure.judged == 0 else figure.met == figure.judged,
        evidence=[f"{figure.met} of {figure.judged} bookings confirmed by their deadline"]
        + [
            f"{b.number}: due {b.due:%Y-%m-%d %H:%M} UTC, "
            + (f"confirmed {b.confirmed_at:%Y-%m-%d %H:%M}" if b.confirmed_at else "unconfirmed")
            + ("" if b.met else " (late)")
            for b in figure.bookings
        ],
    )


def _turnaround(key: str, description: str, target: str, t: Turnaround | None) -> Commitment:
    if t is None or t.count == 0:
        return Commitment(key, description, target, None, None, ["none this month"])
    waits = (
        f"median {t.median_seconds:.0f} s, longest {t.max_seconds:.0f} s"
        if t.median_seconds is not None and t.max_seconds is not None
        else "none connected"
    )
    return Commitment(
        key=key,
        description=description,
        target=target,
        figure=t.within_target_pct,
        met=t.within_target == t.count,
        evidence=[
            f"{t.within_target} of {t.count} within target, {t.connected} connected; {waits}"
        ],
    )


def _calls(stats: CallStats) -> list[Commitment]:
    causes = [
        f"{c.label}: {c.count} ({c.share_of_calls_pct or 0} % of calls)"
        + (" — the provider's side" if c.provider_side else "")
        for c in stats.failures_by_cause
    ]
    return [
        _turnaround(
            "adhoc_turnaround",
            "Ad hoc conferences connected by their promise (certified sites 5 min, longer for "
            "more sites and uncertified ones; 15 min for requests made on the web page)",
            "each by its promised time",
            stats.adhoc,
        ),
        _turnaround(
            "add_site_turnaround",
            "Sites added to a running meeting connected within 5 minutes",
            "each within 5 min",
            stats.add_site,
        ),
        Commitment(
            key="recovery",
            description="Failed, dropped and late calls restored in under 5 minutes",
            target=f"≥ {stats.restored_target_pct} %",
            figure=stats.restored_pct,
            met=stats.restored_met,
            evidence=[
                f"{stats.restored_within_5_min} of {stats.recovery_events} failed, dropped or "
                "late calls restored within 5 minutes"
            ],
        ),
        Commitment(
            key="drops_audio_link",
            description="Dropped sites that could not be reconnected within the 5-minute "
            "window given an audio link in the meeting",
            target="every one",
            figure=callstats.pct(stats.drops_with_audio_link, stats.drops_past_window),
            met=None
            if stats.drops_past_window == 0
            else stats.drops_with_audio_link == stats.drops_past_window,
            evidence=[
                f"{stats.drops_with_audio_link} of {stats.drops_past_window} sites not back "
                "within 5 minutes given an audio link"
            ],
        ),
        Commitment(
            key="failed_calls",
            description="Calls that fail, by cause",
            target=f"< {stats.failure_target_pct} %",
            figure=stats.failure_rate_pct,
            met=stats.failure_met,
            evidence=[
                f"{stats.failed_calls} of {stats.calls} calls failed "
                f"({stats.customer_side_failures} customer side, "
                f"{stats.provider_side_failures} the provider's)",
                *causes,
            ],
        ),
        Commitment(
            key="on_time_launch",
            description="Conferences whose every site connected within 2 minutes of the start",
            target=f"≥ {stats.on_time_target_pct} %",
            figure=stats.on_time_pct,
            met=stats.on_time_met,
            evidence=[f"{stats.launches_on_time} of {stats.launches_decided} launches on time"],
        ),
    ]


def _certification(month: CertificationMonth | None) -> Commitment:
    description = (
        "Sites certified within their deadline (external 24 h from complete information; "
        "internal rooms registered in 24 h and certified in 48 h; upgrades the same day)"
    )
    if month is None:
        return Commitment(
            "certification_deadlines",
            description,
            "every site by its deadline",
            None,
            None,
            ["certification figures are not connected to this report"],
        )
    return Commitment(
        key="certification_deadlines",
        description=description,
        target="every site by its deadline",
        figure=month.share_on_time_pct,
        met=None if month.certified == 0 else month.on_time == month.certified,
        evidence=[f"{month.on_time} of {month.certified} sites certified in time", *month.evidence],
    )


def _judged(key: str, description: str, target: str, j: desk_month.Judged) -> Commitment:
    return Commitment(
        key=key,
        description=description,
        target=target,
        figure=j.met_pct,
        met=None if j.judged == 0 else j.met == j.judged,
        evidence=[f"{j.met} of {j.judged} tickets in time"]
        + [f"{s}: {m} of {n}" for s, (n, m) in j.by_severity.items()],
    )


def _desk(month: desk_month.DeskMonth) -> list[Commitment]:
    phone = month.phone_within_60s_pct
    return [
        _judged(
            "desk_response",
            "Help-desk tickets answered within their severity's response time (SL4 10 min, "
            "SL3 15 min, SL2 and SL1 30 min on the default policy)",
            "every ticket",
            month.response,
        ),
        _judged(
            "desk_resolution",
            "Help-desk tickets resolved within their severity's resolution time",
            "every ticket",
            month.resolution,
        ),
        _judged(
            "desk_email",
            "Email to the help desk answered within 24 hours",
            "every email",
            month.email,
        ),
        Commitment(
            key="desk_phone",
            description="Calls to the help desk answered within 60 seconds",
            target=f"≥ {desk_month.PHONE_TARGET_PCT} %",
            figure=phone,
            met=None if phone is None else phone >= desk_month.PHONE_TARGET_PCT,
            evidence=[f"{month.phone_calls} calls"]
            if month.phone_calls is not None
            else ["the phone queue is not measured yet"],
        ),
    ]


async def build(
    session: AsyncSession, customer_id: int, month: str, *, by: Actor, now: datetime | None = None
) -> ServiceReport:
    """The customer's report for YYYY-MM; a customer's users see only their own customer."""
    now = now or utcnow()
    if not 1 <= customer_id <= MAX_KEY:
        raise registry.CustomerNotFound()
    customer = await registry.get_customer(session, customer_id, by=by)
    year, number = uptime.parse_month(month)
    month = f"{year:04d}-{number:02d}"
    span = uptime.month_span(year, number, ZoneInfo(customer.timezone))
    commitments = [
        _uptime(await uptime.monthly_report(session, component, month, now=now))
        for component in COMPONENTS
    ]
    commitments.append(
        _confirmation(
            await confirmation.confirmation_figure(
                session, start=span.start, end=span.end, now=now, customer_id=customer.id
            )
        )
    )
    calls = await callstats.customer_month(session, customer.id, month, by=by)
    commitments.extend(_calls(calls.stats))
    certification = None
    if _certification_providers:
        certification = await _certification_providers[0](session, customer.id, month)
    commitments.append(_certification(certification))
    commitments.extend(
        _desk(await desk_month.customer_desk_month(session, customer.id, month, span, now))
    )
    return ServiceReport(
        customer_id=customer.id,
        customer_name=customer.name,
        month=month,
        timezone=customer.timezone,
        generated_at=now,
        commitments=commitments,
    )
