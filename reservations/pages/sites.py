"""The "Add site" form: one site by hand, checked as the API checks it (the same request
schema, then the site service: tenancy, dial policy, unique name)."""

from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from bridgedesk.auth import CurrentActor
from bridgedesk.db import Db
from bridgedesk.errors import DomainError, Forbidden
from bridgedesk.identity import Actor
from bridgedesk.web import render
from reservations.models import SiteKind
from reservations.pages.context import page_router
from reservations.schemas import SiteIn
from reservations.service import registry

router = page_router()
Short = Annotated[str, Form(max_length=300)]

FIELD_LABELS = {
    "customer_id": "Customer",
    "name": "Name",
    "kind": "Kind",
    "timezone": "Time zone",
    "sip_uri": "SIP address",
    "audio_uri": "Audio address",
    "max_speed_kbps": "Highest speed",
    "billing_zone": "Billing zone",
}


def _problems(error: ValidationError) -> list[str]:
    """The schema's complaints, each under the form label the user sees."""
    return [
        f"{FIELD_LABELS.get(str(e['loc'][0]), str(e['loc'][0])) if e['loc'] else 'Form'}: "
        f"{e['msg'].removeprefix('Value error, ')}"
        for e in error.errors()
    ]


async def _added(db: Db, actor: Actor, added: str) -> str | None:
    """The flash after a site was added: its name, read back (so no URL can put words here)."""
    if not added.isdigit() or len(added) > 10:
        return None
    try:
        site = await registry.get_site(db, int(added), by=actor)
    except DomainError:
        return None
    return site.name


async def _form(
    request: Request, db: Db, actor: Actor, form: dict[str, str], errors: list[str]
) -> Response:
    if actor.role not in registry.SITE_REGISTRARS:
        raise Forbidden("Your role may not register sites.")
    customers = (
        await registry.list_customers(db, by=actor)
        if actor.is_provider
        else [await registry.get_customer(db, actor.customer_id or 0, by=actor)]
    )
    context: dict[str, Any] = {
        "customers": customers,
        "kinds": list(SiteKind),
        "form": form,
        "errors": errors,
        "added": await _added(db, actor, request.query_params.get("added", "")),
    }
    status = 422 if errors else 200
    return render(request, "reservations/site_form.html", context, actor=actor, status_code=status)


@router.get("/sites/new")
async def new_site(request: Request, db: Db, actor: CurrentActor) -> Response:
    return await _form(request, db, actor, {}, [])


@router.post("/sites/new")
async def add_site(
    request: Request,
    db: Db,
    actor: CurrentActor,
    customer_id: Short,
    name: Short,
    kind: Short,
    timezone: Short,
    sip_uri: Short,
    max_speed_kbps: Short,
    billing_zone: Short,
    audio_uri: Short = "",
) -> Response:
    form = {
        "customer_id": customer_id,
        "name": name,
        "kind": kind,
        "timezone": timezone,
        "sip_uri": sip_uri,
        "audio_uri": audio_uri,
        "max_speed_kbps": max_speed_kbps,
        "billing_zone": billing_zone,
    }
    try:
        given = {k: v for k, v in form.items() if v.strip() or k != "audio_uri"}
        body = SiteIn.model_validate(given)
    except ValidationError as error:
        return await _form(request, db, actor, form, _problems(error))
    try:
        async with db.begin_nested():
            site = await registry.create_site(db, body.to_data(), by=actor)
    except DomainError as error:
        return await _form(request, db, actor, form, [error.detail])
    return RedirectResponse(f"/sites/new?added={site.id}", status_code=303)
