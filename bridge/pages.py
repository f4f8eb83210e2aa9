"""The bridge package's server-rendered pages: thin handlers over its service."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from bridge.service import leg_views, procedure
from bridgedesk.auth import require_role
from bridgedesk.clock import utcnow
from bridgedesk.db import Db
from bridgedesk.identity import Actor, Role
from bridgedesk.web import render

router = APIRouter(include_in_schema=False)

# -- live page --

# Provider staff who handle running calls; finance has no part in them.
LiveWatcher = Annotated[Actor, require_role(Role.ADMIN, Role.OPERATOR, Role.TECHNICIAN)]
# How often the page asks for a fresh panel.
POLL_SECONDS = 2


def _seconds_left(deadline: datetime | None, now: datetime) -> int | None:
    return None if deadline is None else max(0, int((deadline - now).total_seconds()))


async def _panel(db: Db) -> dict[str, Any]:
    now = utcnow()
    running = await leg_views.running_conferences(db)
    incident_ids = [leg.incident.id for item in running for leg in item.legs if leg.incident]
    return {
        "running": running,
        # The problem-call checklists (bridge/_procedure_checklist.html), by incident.
        "procedures": await procedure.procedures_for(db, incident_ids),
        "outcomes": procedure.OUTCOME_LABELS,
        "attempt_labels": procedure.ATTEMPT_LABELS,
        "now": now,
        "seconds_left": lambda deadline: _seconds_left(deadline, now),
        "poll_seconds": POLL_SECONDS,
    }


@router.get("/live")
async def live_page(request: Request, db: Db, actor: LiveWatcher) -> Response:
    """Every running conference with its legs, drops, recovery countdowns and audio links."""
    return render(request, "bridge/live.html", await _panel(db), actor=actor)


@router.get("/live/panel")
async def live_panel(request: Request, db: Db, actor: LiveWatcher) -> Response:
    """The page's body alone; the page fetches it every few seconds and swaps it in."""
    return render(request, "bridge/_live_panel.html", await _panel(db), actor=actor)


@router.post("/live/incidents/{incident_id:int}/procedure/steps/{position:int}")
async def record_procedure_outcome(
    incident_id: int,
    position: int,
    db: Db,
    actor: LiveWatcher,
    outcome: Annotated[str, Form(max_length=30)] = "",
) -> Response:
    """One click on the checklist: the outcome of the call just made for that step."""
    # The service refuses an outcome that is not one of the procedure's (422).
    await procedure.record_attempt(db, incident_id, position, outcome=outcome, by=actor)
    return RedirectResponse(f"/live#procedure-{incident_id}", status_code=303)
