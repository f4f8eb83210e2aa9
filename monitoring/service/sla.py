"""SLA policies as rows: which policy a customer is on, and the due instants its clocks give."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bridgedesk.errors import Forbidden, InvalidInput, NotFound
from bridgedesk.identity import Actor, Role
from monitoring.models import CustomerPolicy, SlaPolicy, SlaTarget
from monitoring.service.business_hours import (
    BusinessCalendar,
    add_working_time,
    opening_at_or_after,
)
from monitoring.service.intervals import Interval
from reservations.service import registry

# SL4 is the most urgent (SPEC §6): bridge or network down, a meeting cannot be held.
SEVERITIES = ("SL1", "SL2", "SL3", "SL4")
POLICY_MANAGERS = frozenset({Role.ADMIN, Role.OPERATOR})
# "Email tickets are answered within 24 h" applies to routine mail: a ticket's channel never
# weakens its severity's response target (SPEC §6, settled reading; an SL4 by email: 10 min).
ROUTINE_SEVERITIES = frozenset({"SL1"})


class PolicyNotFound(NotFound):
    message = "No such SLA policy."


@dataclass(frozen=True)
class Clock:
    """One target: so many minutes, on wall time or on the policy's business calendar."""

    minutes: int
    business: bool


@dataclass(frozen=True)
class SeverityTargets:
    respond: Clock
    update: Clock
    resolve: Clock
    resolve_goal_minutes: int | None


@dataclass(frozen=True)
class Policy:
    id: int
    name: str
    calendar: BusinessCalendar | None
    after_hours_severities: frozenset[str]
    email_respond_minutes: int | None
    targets: dict[str, SeverityTargets]

    def due(self, clock: Clock, start: datetime, pauses: Sequence[Interval] = ()) -> datetime:
        calendar = self.calendar if clock.business else None
        return add_working_time(start, timedelta(minutes=clock.minutes), calendar, pauses)

    def respond_clock(self, severity: str, channel: str) -> Clock:
        clock = self.targets[severity].respond
        if (
            channel == "email"
            and self.email_respond_minutes is not None
            and severity in ROUTINE_SEVERITIES
        ):
            return Clock(self.email_respond_minutes, False)
        return clock

    def is_open(self, at: datetime) -> bool:
        """Within the policy's business hours (a policy without a calendar is always open)."""
        return self.calendar is None or opening_at_or_after(self.calendar, at) == at

    def takes_after_hours(self, severity: str) -> bool:
        return severity in self.after_hours_severities

    def clock_start(self, severity: str, reported_at: datetime) -> datetime:
        """Where a ticket's clocks start: at once during business hours or on the after-hours
        line for the severities it takes; otherwise at the next opening (SPEC §6)."""
        if self.calendar is None or self.takes_after_hours(severity):
            return reported_at
        return opening_at_or_after(self.calendar, reported_at)


def _time(text: str | None, default: time) -> time:
    return time.fromisoformat(text) if text else default


def policy_of(row: SlaPolicy, targets: Sequence[SlaTarget]) -> Policy:
    calendar = None
    if row.timezone:
        calendar = BusinessCalendar(
            zone=row.timezone,
            weekdays=frozenset(row.weekdays or []),
            opens=_time(row.opens, time(8)),
            closes=_time(row.closes, time(17)),
            holiday_country=row.holiday_country,
            holiday_subdiv=row.holiday_subdiv,
        )
    return Policy(
        id=row.id,
        name=row.name,
        calendar=calendar,
        after_hours_severities=frozenset(row.after_hours_severities or []),
        email_respond_minutes=row.email_respond_minutes,
        targets={
            t.severity: SeverityTargets(
                Clock(t.respond_minutes, t.respond_business),
                Clock(t.update_minutes, t.update_business),
                Clock(t.resolve_minutes, t.resolve_business),
                t.resolve_goal_minutes,
            )
            for t in targets
        },
    )


async def load_policy(session: AsyncSession, policy_id: int) -> Policy:
    row = await session.get(SlaPolicy, policy_id)
    if row is None:
        raise PolicyNotFound()
    targets = (
        await session.scalars(select(SlaTarget).where(SlaTarget.policy_id == policy_id))
    ).all()
    return policy_of(row, targets)


async def default_policy_id(session: AsyncSession) -> int:
    found = await session.scalar(
        select(SlaPolicy.id).where(SlaPolicy.is_default.is_(True)).order_by(SlaPolicy.id)
    )
    if found is None:
        raise PolicyNotFound("No default SLA policy is configured.")
    return found


async def customer_policy_id(session: AsyncSession, customer_id: int) -> int:
    assigned = await session.scalar(
        select(CustomerPolicy.policy_id).where(CustomerPolicy.customer_id == customer_id)
    )
    return assigned if assigned is not None else await default_policy_id(session)


async def list_policies(session: AsyncSession, *, by: Actor) -> list[Policy]:
    if not by.is_provider:
        raise Forbidden("SLA policies are for provider staff.")
    rows = (await session.scalars(select(SlaPolicy).order_by(SlaPolicy.id))).all()
    targets = (await session.scalars(select(SlaTarget))).all()
    return [policy_of(row, [t for t in targets if t.policy_id == row.id]) for row in rows]


async def assign_policy(
    session: AsyncSession, customer_id: int, policy_id: int, *, by: Actor
) -> int:
    if by.role not in POLICY_MANAGERS:
        raise Forbidden("Only operators and admins assign SLA policies.")
    await registry.get_customer(session, customer_id, by=by)
    if await session.get(SlaPolicy, policy_id) is None:
        raise InvalidInput("No such SLA policy.")
    row = await session.get(CustomerPolicy, customer_id)
    if row is None:
        session.add(CustomerPolicy(customer_id=customer_id, policy_id=policy_id))
    else:
        row.policy_id = policy_id
    await session.flush()
    return policy_id
