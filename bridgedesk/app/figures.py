"""Figures one package reports on another's pages, connected here because siblings may not
import each other: certification's deadlines met, drawn on monitoring's dashboard and listed
in its service report; the service report sent with billing's invoice."""

import asyncio
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from billing.service import delivery
from bridgedesk import outbox
from bridgedesk.identity import Actor, Role
from certification.service import reports
from monitoring.service import dashboard, report_renditions, service_report

# Who reads a customer's month when the invoice run sends its report: the service itself.
INVOICE_DELIVERY = Actor(user_id=0, role=Role.ADMIN, name="invoice delivery", email="")


async def certification_deadlines_met_pct(
    session: AsyncSession, months: Sequence[str]
) -> list[float | None]:
    """Per month, the percentage of sign-offs that met their deadline (None: no sign-off)."""
    shares = [(await reports.monthly_figure(session, month)).share_on_time for month in months]
    return [None if share is None else float(share) * 100 for share in shares]


async def customer_certification_month(
    session: AsyncSession, customer_id: int, month: str
) -> service_report.CertificationMonth:
    """Certification's own figure for one customer's month, and the sign-offs behind it."""
    figure = await reports.monthly_figure(session, month, customer_id=customer_id)
    sign_offs = await reports.monthly_sign_offs(session, month, customer_id=customer_id)
    share = (
        None
        if figure.certified == 0
        else (Decimal(figure.on_time) * 100 / Decimal(figure.certified)).quantize(
            Decimal("0.01"), ROUND_HALF_UP
        )
    )
    return service_report.CertificationMonth(
        certified=figure.certified,
        on_time=figure.on_time,
        share_on_time_pct=share,
        evidence=[
            f"site {s.site_id}: certified {s.at:%Y-%m-%d %H:%M} UTC"
            + (f", {s.deadline_kind} deadline {s.deadline:%Y-%m-%d %H:%M}" if s.deadline else "")
            + ("" if s.on_time else " (late)")
            for s in sign_offs
        ],
    )


async def service_report_attachment(
    session: AsyncSession, customer_id: int, period: str
) -> list[outbox.Attachment]:
    """The customer's service report for the invoice's month, as a PDF beside the invoice."""
    report = await service_report.build(session, customer_id, period, by=INVOICE_DELIVERY)
    pdf = await asyncio.to_thread(report_renditions.report_pdf, report)
    return [outbox.Attachment(report_renditions.report_filename(report), "application/pdf", pdf)]


def install() -> None:
    dashboard.register_certification_figures(certification_deadlines_met_pct)
    service_report.register_certification(customer_certification_month)
    delivery.register_invoice_companion(service_report_attachment)
