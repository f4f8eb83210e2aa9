"""Conferences now: starting an ad hoc one, extending a conference, adding a site to it."""

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from bridgedesk.auth import CurrentActor
from bridgedesk.db import Db
from bridgedesk.errors import Conflict, DomainError, InvalidInput
from bridgedesk.identity import Actor
from bridgedesk.web import render
from reservations.pages.context import known_id, page_router, refused_conflicts, viewpoint
from reservations.pages.forms import AdhocForm, optional_int, required_int, speed_of
from reservations.pages.views import adhoc_panel, conference_page
from reservations.service import booking, live, queries

router = page_router()


async def _adhoc_page(db: AsyncSession, actor: Actor, form: AdhocForm) -> dict[str, Any]:
    booking.require_booker(actor, "start conferences")
    chosen = optional_int(form.customer_id, "The customer") if actor.is_provider else None
    view = await viewpoint(db, actor, chosen)
    return {**await adhoc_panel(db, actor, view), "adhoc": form}


def _customer_id(actor: Actor, form: AdhocForm) -> int:
    """Staff start a conference for the customer they chose; a customer's users for their own."""
    customer_id = (
        optional_int(form.customer_id, "The customer") if actor.is_provider else actor.customer_id
    )
    if customer_id is None:
        raise InvalidInput("Choose the customer first.")
    return customer_id


@router.get("/conferences/adhoc")
async def adhoc_form(
    request: Request,
    db: Db,
    actor: CurrentActor,
    customer_id: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    context = await _adhoc_page(db, actor, AdhocForm(customer_id=customer_id))
    return render(request, "reservations/adhoc.html", context, actor=actor)


@router.post("/conferences/adhoc")
async def start_adhoc(request: Request, db: Db, actor: CurrentActor) -> Response:
    form = AdhocForm.from_fields(await request.form())
    try:
        async with db.begin_nested():
            started = await live.start_adhoc(
                db,
                customer_id=_customer_id(actor, form),
                title=form.title,
                leader_name=form.leader_name,
                sites=form.sites(),
                length=form.length(),
                # Asked for "on the fly" on the web page: the 15-minute window (SPEC §1).
                on_the_fly=True,
                by=actor,
            )
    except (Conflict, InvalidInput) as refusal:
        context = await _adhoc_page(db, actor, form) | {"refusal": refusal}
        return render(
            request,
            "reservations/adhoc.html",
            context,
            actor=actor,
            status_code=refusal.status_code,
        )
    # Which sites were busy is known only now: the conference page is told in its query.
    query = urlencode(
        [("left_out", f"{c.site_id}:{c.conference_number}") for c in started.unavailable]
    )
    target = f"/conferences/{started.conference.id}" + (f"?{query}" if query else "")
    return RedirectResponse(target, status_code=303)


async def _conference_again(
    request: Request, db: AsyncSession, actor: Actor, conference_id: int, **shown: Any
) -> Response:
    """The conference page once more, with what the change did or why it was refused."""
    refusal = shown.get("refusal")
    status_code = refusal.status_code if isinstance(refusal, DomainError) else 200
    context = await conference_page(db, actor, conference_id) | shown
    return render(
        request, "reservations/conference.html", context, actor=actor, status_code=status_code
    )


@router.post("/conferences/{conference_id:int}/extend")
async def extend_conference(
    request: Request,
    conference_id: int,
    db: Db,
    actor: CurrentActor,
    minutes: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Extend; the page then lists the later bookings the longer meeting now runs into."""
    conference_id = known_id(conference_id, queries.ConferenceNotFound)
    try:
        async with db.begin_nested():
            extended_by = required_int(minutes, "The minutes")
            _, overruns = await live.extend(db, conference_id, extended_by, by=actor)
    except (Conflict, InvalidInput) as refusal:
        return await _conference_again(request, db, actor, conference_id, refusal=refusal)
    return await _conference_again(
        request, db, actor, conference_id, extended_by=extended_by, overruns=overruns
    )


@router.post("/conferences/{conference_id:int}/sites")
async def add_site(
    request: Request,
    conference_id: int,
    db: Db,
    actor: CurrentActor,
    site_id: Annotated[str, Form(max_length=20)] = "",
    speed_kbps: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Add a site if it is free until the end; if not, the page names what holds it."""
    conference_id = known_id(conference_id, queries.ConferenceNotFound)
    try:
        async with db.begin_nested():
            site = booking.SiteRequest(required_int(site_id, "The site"), speed_of(speed_kbps))
            await live.add_site(db, conference_id, site, by=actor)
    except (Conflict, InvalidInput) as refusal:
        return await _conference_again(
            request,
            db,
            actor,
            conference_id,
            refusal=refusal,
            refused=refused_conflicts(refusal.data),
        )
    return RedirectResponse(f"/conferences/{conference_id}", status_code=303)
