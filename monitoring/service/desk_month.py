"""The help desk's month for one customer as its service report shows it: tickets answered
and resolved within their severity's targets, email answered within 24 h, from what the
tickets hold (their clocks were set by the SLA policy when they were opened)."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from monitoring.models import Ticket
from monitoring.service.callstats import pct
from monitoring.service.desk_figures import DeskFigures, month_desk_figures
from monitoring.service.intervals import Interval
from monitoring.service.sla import SEVERITIES

# "Email tickets are answered within 24 h" (SPEC §6), for routine mail.
EMAIL_ANSWER_TARGET = timedelta(hours=24)
# Every ticket is held to its severity's targets; the report judges each one.
DESK_TARGET_PCT = Decimal("100")
# "80 % of calls answered within 60 s" (seed 002).
PHONE_TARGET_PCT = Decimal("80")


@dataclass(frozen=True)
class Judged:
    """Tickets whose clock has run out or stopped, and how many stopped it in time."""

    judged: int = 0
    met: int = 0
    by_severity: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def met_pct(self) -> Decimal | None:
        return pct(self.met, self.judged)


@dataclass(frozen=True)
class DeskMonth:
    tickets: int
    response: Judged
    resolution: Judged
    email: Judged
    # Share of phone calls answered within 60 s; None until the phone queue reports it.
    phone_within_60s_pct: Decimal | None
    phone_calls: int | None
    evidence: list[str]


def _judge(pairs: Sequence[tuple[str, datetime | None, datetime | None]]) -> Judged:
    """pairs of (severity, done at, due by); those not done by `due` count as missed."""
    by_severity: dict[str, tuple[int, int]] = {}
    for severity, done, due in pairs:
        judged, met = by_severity.get(severity, (0, 0))
        by_severity[severity] = (
            judged + 1,
            met + (done is not None and due is not None and done <= due),
        )
    return Judged(
        judged=sum(j for j, _ in by_severity.values()),
        met=sum(m for _, m in by_severity.values()),
        by_severity={s: by_severity[s] for s in SEVERITIES if s in by_severity},
    )


def desk_month(
    tickets: Sequence[Ticket], now: datetime, phone: DeskFigures | None = None
) -> DeskMonth:
    """Response: judged once answered or once `respond_by` passed. Resolution: once resolved
    or once `resolve_by` passed (a paused clock has none and waits). Email: routine mail
    answered within 24 h of being reported."""
    response = [
        (t.severity, t.responded_at, t.respond_by)
        for t in tickets
        if t.responded_at is not None or t.respond_by <= now
    ]
    resolution = [
        (t.severity, t.resolved_at, t.resolve_by)
        for t in tickets
        if (t.resolved_at is not None and t.resolve_by is not None)
        or (t.resolve_by is not None and t.resolve_by <= now)
    ]
    email = [
        (t.severity, t.responded_at, t.reported_at + EMAIL_ANSWER_TARGET)
        for t in tickets
        if t.channel == "email"
        and (t.responded_at is not None or t.reported_at + EMAIL_ANSWER_TARGET <= now)
    ]
    evidence = [
        f"#{t.id} {t.severity} {t.channel}: reported {t.reported_at:%Y-%m-%d %H:%M} UTC, "
        f"respond by {t.respond_by:%Y-%m-%d %H:%M}, "
        + (f"answered {t.responded_at:%Y-%m-%d %H:%M}" if t.responded_at else "not answered")
        + (f", resolved {t.resolved_at:%Y-%m-%d %H:%M}" if t.resolved_at else "")
        + (f" (resolve by {t.resolve_by:%Y-%m-%d %H:%M})" if t.resolve_by else "")
        for t in tickets
    ]
    return DeskMonth(
        tickets=len(tickets),
        response=_judge(response),
        resolution=_judge(resolution),
        email=_judge(email),
        # The phone queue's own figure (desk_figures), as a percentage like the others.
        phone_within_60s_pct=None
        if phone is None or phone.phone_share is None
        else (phone.phone_share * 100).quantize(Decimal("0.01"), ROUND_HALF_UP),
        phone_calls=None if phone is None else phone.phone_offered,
        evidence=evidence,
    )


async def customer_desk_month(
    session: AsyncSession, customer_id: int, month: str, span: Interval, now: datetime
) -> DeskMonth:
    """The customer's tickets reported in the span (the customer's month)."""
    tickets = (
        await session.scalars(
            select(Ticket)
            .where(
                Ticket.customer_id == customer_id,
                Ticket.reported_at >= span.start,
                Ticket.reported_at < span.end,
            )
            .order_by(Ticket.reported_at, Ticket.id)
        )
    ).all()
    phone = await month_desk_figures(session, month=month, customer_id=customer_id)
    return desk_month(tickets, now, phone)
