"""Figures one package reports on another's pages, connected here because siblings may not
import each other (certification's deadlines met, drawn on monitoring's dashboard; the help
desk's best-effort charges, drafted on billing's invoices)."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from billing.service import extras
from certification.service import reports
from monitoring.service import best_effort, dashboard


async def certification_deadlines_met_pct(
    session: AsyncSession, months: Sequence[str]
) -> list[float | None]:
    """Per month, the percentage of sign-offs that met their deadline (None: no sign-off)."""
    shares = [(await reports.monthly_figure(session, month)).share_on_time for month in months]
    return [None if share is None else float(share) * 100 for share in shares]


async def best_effort_charges(
    session: AsyncSession, customer_ids: Sequence[int], start: datetime, end: datetime
) -> list[extras.ExtraCharge]:
    """Monitoring records a best-effort charge; billing puts it on the month's invoice."""
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
    """Connect the siblings; the web app, the worker and the CLI each call it at start."""
    dashboard.register_certification_figures(certification_deadlines_met_pct)
    extras.register_source("help_desk", best_effort_charges)
