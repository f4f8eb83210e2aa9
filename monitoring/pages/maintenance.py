"""Operators' maintenance page: schedule a window (seeing, before saving, the notice warning
and the conferences inside it), move or cancel one, and record an outage by hand. Times in
the forms are read in the reporting time zone, the one the uptime report is written in."""

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from bridgedesk.auth import require_role
from bridgedesk.db import Db
from bridgedesk.errors import DomainError, InvalidInput
from bridgedesk.identity import Actor, Role
from bridgedesk.settings import get_settings
from bridgedesk.web import render
from monitoring.models import COMPONENTS
from monitoring.service import maintenance, uptime

router = APIRouter(include_in_schema=False)
Manager = Annotated[Actor, require_role(Role.OPERATOR, Role.ADMIN)]
Field = Annotated[str, Form(max_length=40)]
Note = Annotated[str, Form(max_length=500)]

DONE = {
    "scheduled": "The maintenance window was scheduled and every customer was notified.",
    "moved": "The maintenance window was moved and every customer was notified again.",
    "cancelled": "The maintenance window was cancelled and every customer was notified.",
    "outage": "The outage was recorded; the month's availability now counts it.",
}


def _zone() -> ZoneInfo:
    return ZoneInfo(get_settings().reporting_timezone)


def _instant(text: str, what: str) -> datetime:
    """A form's `datetime-local` value ("2027-01-04T09:30"), read in the reporting zone."""
    try:
        local = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"Give the {what} as a date and time.") from None
    if local.tzinfo is not None:
        raise InvalidInput(f"Give the {what} without a time zone.")
    return local.replace(tzinfo=_zone())


def _local_input(value: datetime) -> str:
    return value.astimezone(_zone()).strftime("%Y-%m-%dT%H:%M")


async def _preview(
    db: Db, actor: Actor, component: str, start: str, end: str
) -> maintenance.WindowPreview:
    return await maintenance.preview_window(
        db,
        component=component,
        start=_instant(start, "start"),
        end=_instant(end, "end"),
        by=actor,
    )


async def _page(
    request: Request,
    db: Db,
    actor: Actor,
    *,
    error: str | None = None,
    preview: maintenance.WindowPreview | None = None,
    form: dict[str, str] | None = None,
    outage_form: dict[str, str] | None = None,
    outage_error: str | None = None,
) -> Response:
    context: dict[str, Any] = {
        "windows": await maintenance.list_windows(db, upcoming_only=True),
        "outages": (await uptime.list_outages(db, by=actor, component=None, month=None))[:20],
        "components": COMPONENTS,
        "zone": get_settings().reporting_timezone,
        "local_input": _local_input,
        "done": DONE.get(request.query_params.get("done", "")),
        "error": error,
        "preview": preview,
        "form": form or {},
        "outage_form": outage_form or {},
        "outage_error": outage_error,
    }
    status = 422 if error or outage_error else 200
    return render(request, "monitoring/maintenance.html", context, actor=actor, status_code=status)


@router.get("/maintenance")
async def maintenance_page(request: Request, db: Db, actor: Manager) -> Response:
    return await _page(request, db, actor)


@router.get("/maintenance/preview")
async def window_preview(
    request: Request,
    db: Db,
    actor: Manager,
    component: Annotated[str, Query(max_length=40)] = "bridge",
    start: Annotated[str, Query(max_length=40)] = "",
    end: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    """The form's live check: a fragment the page's script puts under the form."""
    try:
        preview = await _preview(db, actor, component, start, end)
    except DomainError as error:
        return render(request, "monitoring/_window_preview.html", {"error": error.detail})
    context = {"preview": preview, "zone": get_settings().reporting_timezone}
    return render(request, "monitoring/_window_preview.html", context, actor=actor)


@router.post("/maintenance")
async def schedule_window(
    request: Request,
    db: Db,
    actor: Manager,
    component: Field,
    start: Field,
    end: Field,
    reason: Note,
    action: Annotated[str, Form(pattern="^(check|schedule)$")] = "schedule",
) -> Response:
    form = {"component": component, "start": start, "end": end, "reason": reason}
    try:
        preview = await _preview(db, actor, component, start, end)
        if action == "check":
            return await _page(request, db, actor, preview=preview, form=form)
        if not reason.strip():
            raise InvalidInput("Say what the maintenance is for; customers read it.")
        data = maintenance.WindowData(component, preview.start, preview.end, reason.strip())
        async with db.begin_nested():
            await maintenance.create_window(db, data, by=actor)
    except DomainError as error:
        return await _page(request, db, actor, error=error.detail, form=form)
    return RedirectResponse("/maintenance?done=scheduled", status_code=303)


@router.post("/maintenance/{window_id:int}/move")
async def move_window(
    request: Request, db: Db, actor: Manager, window_id: int, start: Field, end: Field
) -> Response:
    try:
        async with db.begin_nested():
            await maintenance.move_window(
                db,
                window_id,
                start=_instant(start, "start"),
                end=_instant(end, "end"),
                reason=None,
                by=actor,
            )
    except DomainError as error:
        return await _page(request, db, actor, error=error.detail)
    return RedirectResponse("/maintenance?done=moved", status_code=303)


@router.post("/maintenance/{window_id:int}/cancel")
async def cancel_window(request: Request, db: Db, actor: Manager, window_id: int) -> Response:
    try:
        async with db.begin_nested():
            await maintenance.cancel_window(db, window_id, by=actor)
    except DomainError as error:
        return await _page(request, db, actor, error=error.detail)
    return RedirectResponse("/maintenance?done=cancelled", status_code=303)


@router.post("/outages/record")
async def record_outage(
    request: Request,
    db: Db,
    actor: Manager,
    component: Field,
    start: Field,
    end: Field,
    note: Note = "",
    force_majeure: Annotated[str, Form(max_length=3)] = "",
) -> Response:
    kept = {"component": component, "start": start, "end": end, "note": note}
    try:
        data = uptime.ManualOutage(
            component=component,
            start=_instant(start, "start"),
            end=_instant(end, "end"),
            force_majeure=force_majeure == "yes",
            note=note.strip() or None,
        )
        async with db.begin_nested():
            await uptime.record_outage(db, data, by=actor)
    except DomainError as error:
        return await _page(request, db, actor, outage_error=error.detail, outage_form=kept)
    return RedirectResponse("/maintenance?done=outage", status_code=303)
