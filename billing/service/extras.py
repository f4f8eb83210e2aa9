"""Charges from outside the call records that go on a customer's monthly invoice as lines of
their own (the help desk's best-effort work). Billing does not know where they come from:
the app wiring registers a source that reads them from the package that records them, since
billing may not import its sibling packages. Each charge becomes an invoice line of its own,
priced in the currency of the customer's plan in force when it occurred."""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from billing.models import BilledExtra
from billing.service.rating import (
    NoPlanInForce,
    Plan,
    money_str,
    plan_in_force,
    round_line,
    to_minor,
)


@dataclass(frozen=True)
class ExtraCharge:
    # Unique across every source and forever, e.g. "desk-ticket-42": billed at most once.
    key: str
    customer_id: int
    occurred_at: datetime
    kind: str  # e.g. "best_effort_support"
    reference: str  # what the customer recognizes it by, e.g. "Ticket #42"
    description: str
    minutes: int
    # In the currency of the customer's rate plan; rounded once, on the line.
    amount: Decimal


ExtraChargeSource = Callable[
    [AsyncSession, Sequence[int], datetime, datetime], Awaitable[Sequence[ExtraCharge]]
]

_sources: dict[str, ExtraChargeSource] = {}


def register_source(name: str, source: ExtraChargeSource) -> None:
    """Installed by the app wiring at start; registering a name again replaces it."""
    _sources[name] = source


async def unbilled_between(
    session: AsyncSession, customer_ids: Sequence[int], start: datetime, end: datetime
) -> list[ExtraCharge]:
    """Every registered source's charges in [start, end) not yet on an issued invoice."""
    found: list[ExtraCharge] = []
    for source in _sources.values():
        found.extend(await source(session, customer_ids, start, end))
    if not found:
        return []
    billed = set(
        await session.scalars(
            select(BilledExtra.key).where(BilledExtra.key.in_([c.key for c in found]))
        )
    )
    return [charge for charge in found if charge.key not in billed]


def extra_charge_line(charge: ExtraCharge, currency: str, zone: ZoneInfo) -> dict[str, Any]:
    """A line of its own (ticket, date, minutes, amount), rounded once like every line."""
    return {
        "key": charge.key,
        "kind": charge.kind,
        "reference": charge.reference,
        "description": charge.description,
        "date": charge.occurred_at.astimezone(zone).date().isoformat(),
        "minutes": charge.minutes,
        "amount": money_str(round_line(charge.amount, currency), currency),
    }


def invoice_lines(
    charges: Sequence[ExtraCharge],
    plans: Sequence[Plan],
    zone: ZoneInfo,
    problems: list[str],
    name: str,
) -> tuple[list[dict[str, Any]], str | None, int]:
    """The customer's extra lines in their plan's currency, and their sum in minor units; a
    charge with no rate plan in force is left out and named in `problems`."""
    lines: list[dict[str, Any]] = []
    currency: str | None = None
    total = 0
    for charge in charges:
        try:
            plan = plan_in_force(plans, charge.occurred_at, zone)
        except NoPlanInForce:
            problems.append(f"{name}: {charge.reference} has no rate plan in force")
            continue
        currency = plan.currency
        line = extra_charge_line(charge, currency, zone)
        lines.append(line)
        total += to_minor(Decimal(line["amount"]), currency)
    return lines, currency, total
