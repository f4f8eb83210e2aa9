"""The adapter that puts the help desk's best-effort charges on billing's monthly invoice:
monitoring records them, billing drafts them, and neither imports the other (siblings), so
the app wiring connects them at start (web app, worker and CLI)."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from billing.service import extras
from monitoring.service import best_effort


async def best_effort_charges(
    session: AsyncSession, customer_ids: Sequence[int], start: datetime, end: datetime
) -> list[extras.ExtraCharge]:
    return [
        extras.ExtraCharge(
            key=f"desk-ticket-{charge.ticket_id}",
            customer_id=charge.customer_id,
            occurred_at=charge.charged_at,
            kind="best_effort_support",
            reference=f"Ticket #{charge.ticket_id}",
            description=f"Best-effort support: {charge.summary}",
            minutes=charge.minutes,
            amount=charge.amount,
        )
        for charge in await best_effort.charges_between(session, customer_ids, start, end)
    ]


def install() -> None:
    extras.register_source("help_desk", best_effort_charges)
