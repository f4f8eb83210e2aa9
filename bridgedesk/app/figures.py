"""Figures one package reports on another's pages, connected here because siblings may not
import each other: certification's deadlines met, drawn on monitoring's dashboard and listed
in its service report; the service report sent with billing's invoice; the help desk's
best-effort charges, drafted on billing's invoices."""

import asyncio
from collections.abc import Sequence
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from billing.service import delivery, extras
from bridgedesk import outbox
from bridgedesk.identity import Actor, Role
from certification.service import reports
from monitoring.service import best_effort, dashboard, report_renditions, service_report

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
    service_report.register_certification(customer_certification_month)
    delivery.register_invoice_companion(service_report_attachment)
