"""Figures one package reports on another's pages, connected here because siblings may not
import each other (certification's deadlines met, drawn on monitoring's dashboard)."""

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from certification.service import reports
from monitoring.service import dashboard


async def certification_deadlines_met_pct(
    session: AsyncSession, months: Sequence[str]
) -> list[float | None]:
    """Per month, the percentage of sign-offs that met their deadline (None: no sign-off)."""
    shares = [(await reports.monthly_figure(session, month)).share_on_time for month in months]
    return [None if share is None else float(share) * 100 for share in shares]


def install() -> None:
    dashboard.register_certification_figures(certification_deadlines_met_pct)
