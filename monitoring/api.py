"""The monitoring package's JSON API under /api/v1: thin handlers over its service."""

from dataclasses import asdict
from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from bridgedesk.auth import CurrentActor
from bridgedesk.db import Db
from bridgedesk.errors import InvalidInput
from bridgedesk.schemas import Id
from monitoring.desk_schemas import AwaitPatchIn, ChargeOut, ConsentIn, WorkIn
from monitoring.models import MaintenanceWindow, Ticket
from monitoring.schemas import (
    BreachOut,
    CallStatsOut,
    ClockOut,
    Component,
    EscalateIn,
    MonthText,
    NoteIn,
    NoticeOut,
    OutageIn,
    OutageOut,
    OutagePatch,
    PolicyAssignedOut,
    PolicyAssignIn,
    PolicyOut,
    ReportIntervalOut,
    ResolveIn,
    RespondIn,
    ServiceReportOut,
    TargetOut,
    TicketDetailOut,
    TicketEventOut,
    TicketIn,
    TicketOut,
    TicketsOut,
    TicketStatus,
    UpdateIn,
    UptimeOut,
    WindowIn,
    WindowOut,
    WindowPatch,
)
from monitoring.service import (
    best_effort,
    callstats,
    defects,
    maintenance,
    report_renditions,
    service_report,
    sla,
    ticket_handling,
    tickets,
    uptime,
)

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


@router.post("/tickets", status_code=201)
async def open_ticket(body: TicketIn, db: Db, actor: CurrentActor) -> TicketOut:
    data = tickets.NewTicket(**body.model_dump())
    return TicketOut.from_model(await tickets.open_ticket(db, data, by=actor))


@router.get("/tickets")
async def list_tickets(
    db: Db,
    actor: CurrentActor,
    customer_id: Id | None = None,
    status: TicketStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> TicketsOut:
    found = await tickets.list_tickets(
        db, by=actor, customer_id=customer_id, status=status, limit=limit
    )
    return TicketsOut(items=[TicketOut.from_model(t) for t in found])


async def _detail(db: AsyncSession, ticket: Ticket) -> TicketDetailOut:
    out = TicketDetailOut.from_model(ticket)
    out.timeline = [TicketEventOut.from_model(e) for e in await tickets.timeline(db, ticket)]
    out.breaches = [BreachOut.from_model(b) for b in await tickets.breaches_of(db, ticket)]
    charge = await best_effort.charge_of(db, ticket.id)
    out.charge = ChargeOut.from_model(charge) if charge is not None else None
    return out


@router.get("/tickets/{ticket_id}")
async def get_ticket(ticket_id: Id, db: Db, actor: CurrentActor) -> TicketDetailOut:
    return await _detail(db, await tickets.get_ticket(db, ticket_id, by=actor))


@router.post("/tickets/{ticket_id}/respond")
async def respond(ticket_id: Id, body: RespondIn, db: Db, actor: CurrentActor) -> TicketDetailOut:
    ticket = await ticket_handling.respond(
        db, ticket_id, note=body.note, severity=body.severity, by=actor
    )
    return await _detail(db, ticket)


@router.post("/tickets/{ticket_id}/update")
async def post_update(
    ticket_id: Id, body: UpdateIn, db: Db, actor: CurrentActor
) -> TicketDetailOut:
    return await _detail(
        db, await ticket_handling.post_update(db, ticket_id, note=body.note, by=actor)
    )


@router.post("/tickets/{ticket_id}/escalate")
async def escalate(ticket_id: Id, body: EscalateIn, db: Db, actor: CurrentActor) -> TicketDetailOut:
    ticket = await ticket_handling.escalate(db, ticket_id, tier=body.tier, note=body.note, by=actor)
    return await _detail(db, ticket)


@router.post("/tickets/{ticket_id}/wait")
async def wait(ticket_id: Id, body: NoteIn, db: Db, actor: CurrentActor) -> TicketDetailOut:
    ticket = await ticket_handling.wait_on_customer(db, ticket_id, note=body.note, by=actor)
    return await _detail(db, ticket)


@router.post("/tickets/{ticket_id}/resume")
async def resume(ticket_id: Id, body: NoteIn, db: Db, actor: CurrentActor) -> TicketDetailOut:
    return await _detail(db, await ticket_handling.resume(db, ticket_id, note=body.note, by=actor))


@router.post("/tickets/{ticket_id}/resolve")
async def resolve(ticket_id: Id, body: ResolveIn, db: Db, actor: CurrentActor) -> TicketDetailOut:
    ticket = await ticket_handling.resolve(
        db, ticket_id, closure_reason=body.closure_reason, note=body.note, by=actor
    )
    return await _detail(db, ticket)


@router.post("/tickets/{ticket_id}/reopen")
async def reopen(ticket_id: Id, body: NoteIn, db: Db, actor: CurrentActor) -> TicketDetailOut:
    return await _detail(db, await ticket_handling.reopen(db, ticket_id, note=body.note, by=actor))


@router.post("/tickets/{ticket_id}/work")
async def record_work(ticket_id: Id, body: WorkIn, db: Db, actor: CurrentActor) -> TicketDetailOut:
    ticket = await best_effort.record_work(
        db, ticket_id, minutes=body.minutes, note=body.note, by=actor
    )
    return await _detail(db, ticket)


@router.post("/tickets/{ticket_id}/charge-consent")
async def record_consent(
    ticket_id: Id, body: ConsentIn, db: Db, actor: CurrentActor
) -> TicketDetailOut:
    ticket = await best_effort.record_consent(db, ticket_id, note=body.note, by=actor)
    return await _detail(db, ticket)


@router.post("/tickets/{ticket_id}/await-patch")
async def await_patch(
    ticket_id: Id, body: AwaitPatchIn, db: Db, actor: CurrentActor
) -> TicketDetailOut:
    ticket = await defects.await_patch(
        db, ticket_id, defect_id=body.defect_id, note=body.note, by=actor
    )
    return await _detail(db, ticket)


@router.get("/sla-policies")
async def list_policies(db: Db, actor: CurrentActor) -> list[PolicyOut]:
    return [
        PolicyOut(
            id=p.id,
            name=p.name,
            timezone=p.calendar.zone if p.calendar else None,
            after_hours_severities=sorted(p.after_hours_severities),
            email_respond_minutes=p.email_respond_minutes,
            targets=[
                TargetOut(
                    severity=severity,
                    respond=ClockOut(**asdict(t.respond)),
                    update=ClockOut(**asdict(t.update)),
                    resolve=ClockOut(**asdict(t.resolve)),
                    resolve_goal_minutes=t.resolve_goal_minutes,
                )
                for severity, t in sorted(p.targets.items())
            ],
        )
        for p in await sla.list_policies(db, by=actor)
    ]


@router.put("/customers/{customer_id}/sla-policy")
async def assign_policy(
    customer_id: Id, body: PolicyAssignIn, db: Db, actor: CurrentActor
) -> PolicyAssignedOut:
    policy_id = await sla.assign_policy(db, customer_id, body.policy_id, by=actor)
    return PolicyAssignedOut(customer_id=customer_id, policy_id=policy_id)


# The monthly service report: every commitment with its target, value and evidence.


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
