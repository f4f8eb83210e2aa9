"""The monitoring API's help-desk ticket routes under /api/v1 (opening, reading, working
a ticket, best-effort work and consent, waiting on a patch) and the SLA policies that set
their clocks. Thin handlers over the service."""

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy.ext.asyncio import AsyncSession

from bridgedesk.auth import CurrentActor
from bridgedesk.db import Db
from bridgedesk.schemas import Id
from monitoring.models import Ticket
from monitoring.schemas.desk import AwaitPatchIn, ChargeOut, ConsentIn, WorkIn
from monitoring.schemas.tickets import (
    BreachOut,
    ClockOut,
    EscalateIn,
    NoteIn,
    PolicyAssignedOut,
    PolicyAssignIn,
    PolicyOut,
    ResolveIn,
    RespondIn,
    TargetOut,
    TicketDetailOut,
    TicketEventOut,
    TicketIn,
    TicketOut,
    TicketsOut,
    TicketStatus,
    UpdateIn,
)
from monitoring.service import best_effort, defects, sla, ticket_handling, tickets

router = APIRouter(prefix="/api/v1", tags=["monitoring"])


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
