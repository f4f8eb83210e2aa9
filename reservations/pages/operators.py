"""The operators' pages: the confirmation queue, most urgent deadline first, and confirming."""

from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from bridgedesk.auth import CurrentActor
from bridgedesk.clock import utcnow
from bridgedesk.db import Db
from bridgedesk.identity import Actor
from bridgedesk.web import render
from reservations.pages.context import back_to, is_overdue, known_id, page_router, site_names, until
from reservations.service import confirmation, queries, registry

router = page_router()


async def _confirmation_queue(db: AsyncSession, actor: Actor, overdue_only: bool) -> dict[str, Any]:
    waiting = await confirmation.confirmation_queue(db, by=actor, overdue_only=overdue_only)
    now = utcnow()
    customers = {c.id: c for c in await registry.list_customers(db, by=actor)}
    return {
        "waiting": waiting,
        "overdue_only": overdue_only,
        "customers": customers,
        "site_names": await site_names(db, waiting),
        "overdue": {c.id for c in waiting if is_overdue(c, now)},
        "until": {c.id: until(c.confirmation_due, now) for c in waiting},
    }


@router.get("/confirmations")
async def confirmation_queue(
    request: Request, db: Db, actor: CurrentActor, overdue: bool = False
) -> Response:
    context = await _confirmation_queue(db, actor, overdue)
    return render(request, "reservations/confirmations.html", context, actor=actor)


@router.post("/conferences/{conference_id:int}/confirm")
async def confirm_conference(
    conference_id: int,
    db: Db,
    actor: CurrentActor,
    return_to: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    conference_id = known_id(conference_id, queries.ConferenceNotFound)
    await confirmation.confirm(db, conference_id, by=actor)
    return back_to(return_to, f"/conferences/{conference_id}")
