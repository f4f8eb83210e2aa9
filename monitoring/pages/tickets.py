"""The help desk's pages: the ticket list with the phone queue, opening a ticket, a
ticket's page with its clocks, contract, work, timeline and the desk's actions, and tier 3's
defect list. Thin handlers over the help desk's services."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from bridgedesk.auth import CurrentActor, current_actor
from bridgedesk.clock import utcnow
from bridgedesk.db import MAX_KEY, Db
from bridgedesk.errors import InvalidInput
from bridgedesk.identity import Actor
from bridgedesk.web import render
from monitoring.models import Ticket
from monitoring.service import best_effort, breaches, defects, phone_queue, ticket_handling, tickets
from monitoring.service.contracts import BEST_EFFORT_TERMS, contract_number
from monitoring.service.sla import SEVERITIES
from reservations.service import registry

router = APIRouter(include_in_schema=False, dependencies=[Depends(current_actor)])

ACTIONS = (
    "respond",
    "update",
    "escalate",
    "wait",
    "resume",
    "resolve",
    "reopen",
    "work",
    "consent",
    "await-patch",
)
Text = Annotated[str, Form(max_length=4000)]
Short = Annotated[str, Form(max_length=300)]


def _clean(value: str) -> str | None:
    if "\x00" in value:
        raise InvalidInput("Text may not contain NUL characters.")
    return value.strip() or None


def _missed(ticket: Ticket, now: datetime) -> set[str]:
    return {kind for kind, _ in breaches.missed_clocks(ticket, now)}


async def _customer_names(db: AsyncSession, actor: Actor) -> dict[int, str]:
    return {c.id: c.name for c in await registry.list_customers(db, by=actor)}


@router.get("/tickets")
async def ticket_list(
    request: Request, db: Db, actor: CurrentActor, status: str | None = None
) -> Response:
    chosen = status if status in tickets.STATUSES else None
    found = await tickets.list_tickets(db, by=actor, status=chosen)
    now = utcnow()
    return render(
        request,
        "monitoring/tickets.html",
        {
            "tickets": found,
            "status": chosen,
            "statuses": tickets.STATUSES,
            "customers": await _customer_names(db, actor),
            "late": {t.id: "response" in _missed(t, now) for t in found},
            "may_open": actor.role in tickets.OPENERS,
            "queue": (
                await phone_queue.waiting_calls(db, by=actor)
                if actor.role in tickets.HANDLERS
                else None
            ),
        },
        actor=actor,
    )


@router.get("/tickets/new")
async def new_ticket_form(request: Request, db: Db, actor: CurrentActor) -> Response:
    return render(
        request,
        "monitoring/ticket_form.html",
        {
            "customers": await _customer_names(db, actor),
            "severities": SEVERITIES,
            "channels": tickets.CHANNELS,
        },
        actor=actor,
    )


@router.post("/tickets/new")
async def open_ticket(
    db: Db,
    actor: CurrentActor,
    customer_id: Annotated[int, Form(ge=1, le=MAX_KEY)],
    severity: Annotated[str, Form(max_length=3)],
    channel: Annotated[str, Form(max_length=10)],
    summary: Short,
    description: Text,
    caller_name: Short = "",
    caller_account: Annotated[str, Form(max_length=100)] = "",
    caller_system: Short = "",
) -> Response:
    if not (_clean(summary) and _clean(description)):
        raise InvalidInput("A summary and a description are needed.")
    ticket = await tickets.open_ticket(
        db,
        tickets.NewTicket(
            customer_id=customer_id,
            severity=severity,
            summary=summary.strip(),
            description=description.strip(),
            channel=channel,
            caller_name=_clean(caller_name),
            caller_account=_clean(caller_account),
            caller_system=_clean(caller_system),
        ),
        by=actor,
    )
    return RedirectResponse(f"/tickets/{ticket.id}", status_code=303)


async def _page(request: Request, db: AsyncSession, actor: Actor, ticket: Ticket) -> Response:
    missed = _missed(ticket, utcnow())
    context: dict[str, Any] = {
        "ticket": ticket,
        "customer": (await _customer_names(db, actor)).get(ticket.customer_id, ""),
        "timeline": await tickets.timeline(db, ticket),
        "breaches": await tickets.breaches_of(db, ticket),
        "handler": actor.role in tickets.HANDLERS,
        "may_reopen": actor.role in tickets.OPENERS,
        "severities": SEVERITIES,
        "tiers": tickets.TIERS,
        "closure_reasons": tickets.CLOSURE_REASONS,
        "late_response": "response" in missed,
        "late_resolution": "resolution" in missed,
        "free_minutes": BEST_EFFORT_TERMS.free_minutes,
        "charge": await best_effort.charge_of(db, ticket.id),
        "contract_number": contract_number(ticket.contract_id) if ticket.contract_id else None,
        "open_defects": (
            [d for d in await defects.list_defects(db, by=actor) if d.status == "open"]
            if actor.role in tickets.HANDLERS
            else []
        ),
    }
    return render(request, "monitoring/ticket.html", context, actor=actor)


@router.get("/tickets/{ticket_id:int}")
async def ticket_page(request: Request, ticket_id: int, db: Db, actor: CurrentActor) -> Response:
    ticket = await tickets.get_ticket(db, ticket_id, by=actor)
    return await _page(request, db, actor, ticket)


@router.post("/tickets/{ticket_id:int}/{action}")
async def ticket_action(
    ticket_id: int,
    action: str,
    db: Db,
    actor: CurrentActor,
    note: Text = "",
    severity: Annotated[str, Form(max_length=3)] = "",
    tier: Annotated[str, Form(max_length=12)] = "",
    closure_reason: Annotated[str, Form(max_length=40)] = "",
    minutes: Annotated[int | None, Form(ge=1, le=24 * 60)] = None,
    defect_id: Annotated[int | None, Form(ge=1, le=MAX_KEY)] = None,
) -> Response:
    if action not in ACTIONS:
        raise tickets.TicketNotFound("No such action on a ticket.")
    text = _clean(note)
    if action == "respond":
        await ticket_handling.respond(db, ticket_id, note=text, severity=severity or None, by=actor)
    elif action == "update":
        if text is None:
            raise InvalidInput("An update needs a note for the customer.")
        await ticket_handling.post_update(db, ticket_id, note=text, by=actor)
    elif action == "escalate":
        await ticket_handling.escalate(db, ticket_id, tier=tier or None, note=text, by=actor)
    elif action == "wait":
        await ticket_handling.wait_on_customer(db, ticket_id, note=text, by=actor)
    elif action == "resume":
        await ticket_handling.resume(db, ticket_id, note=text, by=actor)
    elif action == "resolve":
        await ticket_handling.resolve(
            db, ticket_id, closure_reason=closure_reason, note=text, by=actor
        )
    elif action == "work":
        if minutes is None:
            raise InvalidInput("Say how many minutes of work to record.")
        await best_effort.record_work(db, ticket_id, minutes=minutes, note=text, by=actor)
    elif action == "consent":
        await best_effort.record_consent(db, ticket_id, note=text, by=actor)
    elif action == "await-patch":
        if defect_id is None:
            raise InvalidInput("Choose the defect whose patch the ticket waits for.")
        await defects.await_patch(db, ticket_id, defect_id=defect_id, note=text, by=actor)
    else:
        await ticket_handling.reopen(db, ticket_id, note=text, by=actor)
    return RedirectResponse(f"/tickets/{ticket_id}", status_code=303)


@router.post("/tickets/queue/next")
async def take_next_call(db: Db, actor: CurrentActor) -> Response:
    ticket = await phone_queue.answer_next(db, by=actor)
    return RedirectResponse(f"/tickets/{ticket.id}", status_code=303)


@router.get("/defects")
async def defect_list(request: Request, db: Db, actor: CurrentActor) -> Response:
    found = await defects.list_defects(db, by=actor)
    return render(
        request,
        "monitoring/defects.html",
        {"defects": found, "tickets": {d.id: await defects.tickets_of(db, d) for d in found}},
        actor=actor,
    )


@router.post("/defects")
async def add_defect(
    db: Db,
    actor: CurrentActor,
    title: Short,
    description: Text,
    kind: Annotated[str, Form(max_length=12)] = "defect",
) -> Response:
    if not (_clean(title) and _clean(description)):
        raise InvalidInput("A title and a description are needed.")
    await defects.create_defect(
        db, defects.NewDefect(kind, title.strip(), description.strip()), by=actor
    )
    return RedirectResponse("/defects", status_code=303)


@router.post("/defects/{defect_id:int}/release")
async def release_defect(
    defect_id: int, db: Db, actor: CurrentActor, release: Annotated[str, Form(max_length=100)]
) -> Response:
    name = _clean(release)
    if name is None:
        raise InvalidInput("Name the release that carries the fix.")
    await defects.release_fix(db, defect_id, release=name, by=actor)
    return RedirectResponse("/defects", status_code=303)
