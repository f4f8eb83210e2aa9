"""The help desk's monthly figures (SPEC §6): calls answered within 60 s (target 80 %),
email answered within 24 h, and per severity the tickets responded to and resolved on time.
One typed function, read by the API, the dashboard and the monthly service report."""

from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from bridgedesk.errors import Forbidden
from bridgedesk.identity import Actor
from bridgedesk.settings import get_settings
from monitoring.models import Ticket
from monitoring.service.sla import SEVERITIES
from monitoring.service.uptime import month_span, parse_month
from reservations.models import Customer
from reservations.service import registry

# "80 % of calls answered in 60 seconds" and "email tickets are answered within 24 h".
PHONE_ANSWER_WITHIN = timedelta(seconds=60)
PHONE_TARGET_SHARE = Decimal("0.80")
EMAIL_ANSWER_WITHIN = timedelta(hours=24)
_SHARE_PLACES = Decimal("0.0001")


@dataclass(frozen=True)
class SeverityDeskFigures:
    severity: str
    tickets: int
    responded_on_time: int
    resolved_on_time: int


@dataclass(frozen=True)
class DeskFigures:
    """A month's desk figures; shares are None when there was nothing to measure."""

    month: str
    customer_id: int | None
    phone_offered: int
    phone_answered_within_60s: int
    phone_share: Decimal | None
    emails: int
    emails_answered_within_24h: int
    email_share: Decimal | None
    severities: tuple[SeverityDeskFigures, ...]
    phone_target_share: Decimal = PHONE_TARGET_SHARE

    @property
    def phone_met(self) -> bool | None:
        return None if self.phone_share is None else self.phone_share >= self.phone_target_share

    def severity(self, severity: str) -> SeverityDeskFigures:
        return next(s for s in self.severities if s.severity == severity)


def share(part: int, whole: int) -> Decimal | None:
    if whole == 0:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(_SHARE_PLACES, rounding=ROUND_HALF_UP)


async def month_desk_figures(
    session: AsyncSession, *, month: str, customer_id: int | None
) -> DeskFigures:
    """The desk's figures for `month`: a customer's month runs in its own time zone, the
    whole desk's in the reporting zone. A call belongs to the month it was offered in (a call
    offered at 23:59:30 on the last day and answered after midnight counts there), a ticket
    to the month it was reported in."""
    year, number = parse_month(month)
    zone_name = get_settings().reporting_timezone
    if customer_id is not None:
        customer = await session.get(Customer, customer_id)
        if customer is not None:
            zone_name = customer.timezone
    span = month_span(year, number, ZoneInfo(zone_name))
    scope: list[ColumnElement[bool]] = (
        [] if customer_id is None else [Ticket.customer_id == customer_id]
    )
    calls = (
        await session.execute(
            select(Ticket.offered_at, Ticket.answered_at).where(
                Ticket.channel == "phone",
                Ticket.offered_at >= span.start,
                Ticket.offered_at < span.end,
                *scope,
            )
        )
    ).all()
    answered = sum(
        1
        for offered, answered_at in calls
        if offered is not None
        and answered_at is not None
        and answered_at - offered <= PHONE_ANSWER_WITHIN
    )
    tickets = (
        await session.scalars(
            select(Ticket).where(
                Ticket.reported_at >= span.start, Ticket.reported_at < span.end, *scope
            )
        )
    ).all()
    emails = [t for t in tickets if t.channel == "email"]
    emails_answered = sum(
        1
        for t in emails
        if t.responded_at is not None and t.responded_at - t.reported_at <= EMAIL_ANSWER_WITHIN
    )
    severities = tuple(
        SeverityDeskFigures(
            severity=severity,
            tickets=sum(1 for t in tickets if t.severity == severity),
            responded_on_time=sum(
                1
                for t in tickets
                if t.severity == severity
                and t.responded_at is not None
                and t.responded_at <= t.respond_by
            ),
            resolved_on_time=sum(
                1
                for t in tickets
                if t.severity == severity
                and t.resolved_at is not None
                and t.resolve_by is not None
                and t.resolved_at <= t.resolve_by
            ),
        )
        for severity in reversed(SEVERITIES)
    )
    return DeskFigures(
        month=month,
        customer_id=customer_id,
        phone_offered=len(calls),
        phone_answered_within_60s=answered,
        phone_share=share(answered, len(calls)),
        emails=len(emails),
        emails_answered_within_24h=emails_answered,
        email_share=share(emails_answered, len(emails)),
        severities=severities,
    )


async def desk_figures_for(
    session: AsyncSession, *, month: str, customer_id: int | None, by: Actor
) -> DeskFigures:
    """The figures `by` may see: a customer's users see only their own customer's."""
    if not by.is_provider:
        if by.customer_id is None or customer_id not in (None, by.customer_id):
            raise Forbidden("You may see only your own customer's desk figures.")
        customer_id = by.customer_id
    elif customer_id is not None:
        await registry.get_customer(session, customer_id, by=by)
    return await month_desk_figures(session, month=month, customer_id=customer_id)
