"""The monitoring API's uptime routes under /api/v1: the monthly uptime report, outages
and maintenance windows. Thin handlers over the service."""

from dataclasses import asdict

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncSession

from bridgedesk.auth import CurrentActor
from bridgedesk.db import Db
from bridgedesk.schemas import Id
from monitoring.models import MaintenanceWindow
from monitoring.schemas.common import MonthText
from monitoring.schemas.uptime import (
    Component,
    NoticeOut,
    OutageIn,
    OutageOut,
    OutagePatch,
    ReportIntervalOut,
    UptimeOut,
    WindowIn,
    WindowOut,
    WindowPatch,
)
from monitoring.service import maintenance, uptime

router = APIRouter(prefix="/api/v1", tags=["monitoring"])


@router.get("/uptime")
async def get_uptime(
    db: Db, actor: CurrentActor, month: MonthText, component: Component
) -> UptimeOut:
    report = await uptime.monthly_report(db, component, month)
    figures = asdict(report)
    figures["intervals"] = [
        ReportIntervalOut(**{**asdict(i), "counted_minutes": float(i.counted_minutes)})
        for i in report.intervals
    ]
    return UptimeOut(**figures)


@router.post("/outages", status_code=201)
async def record_outage(body: OutageIn, db: Db, actor: CurrentActor) -> OutageOut:
    data = uptime.ManualOutage(body.component, body.start, body.end, body.force_majeure, body.note)
    return OutageOut.from_model(await uptime.record_outage(db, data, by=actor))


@router.get("/outages")
async def list_outages(
    db: Db,
    actor: CurrentActor,
    component: Component | None = None,
    month: MonthText | None = None,
) -> list[OutageOut]:
    found = await uptime.list_outages(db, by=actor, component=component, month=month)
    return [OutageOut.from_model(o) for o in found]


@router.patch("/outages/{outage_id}")
async def classify_outage(
    outage_id: Id, body: OutagePatch, db: Db, actor: CurrentActor
) -> OutageOut:
    outage = await uptime.classify_outage(
        db, outage_id, force_majeure=body.force_majeure, note=body.note, by=actor
    )
    return OutageOut.from_model(outage)


async def _window_out(db: AsyncSession, window: MaintenanceWindow) -> WindowOut:
    out = WindowOut.from_model(window)
    out.notices = [NoticeOut.from_model(n) for n in await maintenance.notices(db, window.id)]
    return out


@router.post("/maintenance-windows", status_code=201)
async def create_window(body: WindowIn, db: Db, actor: CurrentActor) -> WindowOut:
    data = maintenance.WindowData(
        body.component, body.start, body.end, body.reason, body.notified_at
    )
    return await _window_out(db, await maintenance.create_window(db, data, by=actor))


@router.get("/maintenance-windows")
async def list_windows(
    db: Db,
    actor: CurrentActor,
    component: Component | None = None,
    upcoming: bool = False,
    include_cancelled: bool = False,
) -> list[WindowOut]:
    found = await maintenance.list_windows(
        db, component=component, upcoming_only=upcoming, include_cancelled=include_cancelled
    )
    return [await _window_out(db, w) for w in found]


@router.patch("/maintenance-windows/{window_id}")
async def move_window(window_id: Id, body: WindowPatch, db: Db, actor: CurrentActor) -> WindowOut:
    window = await maintenance.move_window(
        db, window_id, start=body.start, end=body.end, reason=body.reason, by=actor
    )
    return await _window_out(db, window)


@router.delete("/maintenance-windows/{window_id}")
async def cancel_window(window_id: Id, db: Db, actor: CurrentActor) -> WindowOut:
    return await _window_out(db, await maintenance.cancel_window(db, window_id, by=actor))
