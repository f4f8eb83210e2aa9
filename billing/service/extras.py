"""Charges from outside the call records that go on a customer's monthly invoice as lines of
their own (the help desk's best-effort work). Billing does not know where they come from:
the app wiring registers a source that reads them from the package that records them, since
billing may not import its sibling packages."""

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from billing.models import BilledExtra


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
