"""The monthly run: draft every month that has ended since the last run, and tell finance.

A month is drafted once it has ended for every customer (the latest of their local month
ends), so no customer's month is cut short. The months drafted are kept in
`billing_month_runs`; after downtime the next run drafts each missed month in turn.
"""

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from billing.models import MonthRun
from billing.service import drafting
from billing.service.periods import month_bounds, next_period, period_of, previous_period
from bridgedesk import outbox
from bridgedesk.identity import Role
from bridgedesk.models import User
from reservations.models import Customer


async def _zones(session: AsyncSession) -> list[ZoneInfo]:
    names = (await session.scalars(select(Customer.timezone).distinct())).all()
    return [ZoneInfo(name) for name in names] or [ZoneInfo("UTC")]


def ended_for_all(period: str, zones: Sequence[ZoneInfo], now: datetime) -> bool:
    return all(month_bounds(period, zone)[1] <= now for zone in zones)


async def months_due(session: AsyncSession, now: datetime) -> list[str]:
    """Months to draft, oldest first: after the last one drafted, up to the latest ended."""
    zones = await _zones(session)
    latest = previous_period(period_of(now, ZoneInfo("UTC")))
    if not ended_for_all(latest, zones, now):
        latest = previous_period(latest)
    last = await session.scalar(select(func.max(MonthRun.period)))
    if last is None:
        return [latest]
    due = []
    period = next_period(last)
    while period <= latest:
        due.append(period)
        period = next_period(period)
    return due


async def draft_month(session: AsyncSession, period: str, now: datetime) -> int:
    """Draft one month for every customer, record it, and queue finance's notice."""
    result = await drafting.run_month(session, period, by=None)
    session.add(MonthRun(period=period, ran_at=now, drafted=len(result.drafted)))
    finance = (
        await session.scalars(
            select(User.email).where(User.role == Role.FINANCE, User.active.is_(True))
        )
    ).all()
    await outbox.enqueue_email(
        session,
        topic="month_drafted",
        to=finance,
        template="billing/email/month_drafted.txt",
        context={
            "period": period,
            "drafted": len(result.drafted),
            "conferences": result.conferences,
            "problems": result.problems,
        },
        dedupe_key=f"month_drafted:{period}",
    )
    await session.flush()
    return len(result.drafted)
