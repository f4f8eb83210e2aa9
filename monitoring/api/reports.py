"""The monitoring API's monthly figures under /api/v1: a customer's call statistics and
the service report (every commitment with its target, value and evidence) as JSON, HTML and
PDF. Thin handlers over the service."""

from dataclasses import asdict

from anyio import to_thread
from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from bridgedesk.auth import CurrentActor
from bridgedesk.db import Db
from bridgedesk.errors import InvalidInput
from bridgedesk.schemas import Id
from monitoring.schemas.common import MonthText
from monitoring.schemas.reports import CallStatsOut, ServiceReportOut
from monitoring.service import callstats, report_renditions, service_report

router = APIRouter(prefix="/api/v1", tags=["monitoring"])


@router.get("/call-stats")
async def call_stats(
    db: Db, actor: CurrentActor, month: MonthText, customer_id: Id | None = None
) -> CallStatsOut:
    chosen = customer_id if customer_id is not None else actor.customer_id
    if chosen is None:
        raise InvalidInput("customer_id is required.")
    found = await callstats.customer_month(db, chosen, month, by=actor)
    return CallStatsOut.model_validate(
        {
            "customer_id": found.customer_id,
            "month": found.month,
            "timezone": found.timezone,
            **asdict(found.stats),
        }
    )


@router.get("/customers/{customer_id}/service-report")
async def read_service_report(
    customer_id: Id, db: Db, actor: CurrentActor, month: MonthText
) -> ServiceReportOut:
    return ServiceReportOut.from_model(await service_report.build(db, customer_id, month, by=actor))


@router.get("/customers/{customer_id}/service-report.html", response_class=HTMLResponse)
async def service_report_html(
    customer_id: Id, db: Db, actor: CurrentActor, month: MonthText
) -> HTMLResponse:
    report = await service_report.build(db, customer_id, month, by=actor)
    return HTMLResponse(report_renditions.report_html(report))


@router.get("/customers/{customer_id}/service-report.pdf", response_class=Response)
async def service_report_pdf(
    customer_id: Id, db: Db, actor: CurrentActor, month: MonthText
) -> Response:
    report = await service_report.build(db, customer_id, month, by=actor)
    pdf = await to_thread.run_sync(report_renditions.report_pdf, report)
    name = report_renditions.report_filename(report)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{name}"'},
    )
