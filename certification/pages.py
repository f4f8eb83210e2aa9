"""The certification package's server-rendered pages: thin handlers over its service."""

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile

from bridgedesk.auth import CurrentActor, current_actor
from bridgedesk.clock import utcnow
from bridgedesk.db import MAX_KEY, Db
from bridgedesk.errors import Conflict, DomainError, InvalidInput
from bridgedesk.identity import Actor
from bridgedesk.web import render
from certification.models import TestOutcome
from certification.schemas import SitePatch
from certification.service import calls, records, sites
from reservations.service import registry

router = APIRouter(include_in_schema=False, dependencies=[Depends(current_actor)])


@router.get("/certification")
async def queue_page(
    request: Request, db: Db, actor: CurrentActor, overdue: bool = False
) -> Response:
    found = await records.queue(db, by=actor, overdue_only=overdue)
    customers = {c.id: c.name for c in await registry.list_customers(db, by=actor)}
    return render(
        request,
        "certification/queue.html",
        {"queue": found, "customers": customers, "overdue_only": overdue, "now": utcnow()},
        actor=actor,
    )


async def _site_context(db: AsyncSession, actor: Actor, site_id: int) -> dict[str, Any]:
    site, record, tests = await calls.overview(db, site_id, by=actor)
    now = utcnow()
    return {
        "site": site,
        "record": record,
        "tests": tests,
        "history": await records.history(db, site.id, by=actor),
        "deadline": records.current_deadline(record),
        "overdue": records.is_overdue(record, now),
        "pending": any(t.outcome == TestOutcome.PENDING for t in tests),
        "may_test": actor.role in records.CERTIFIERS,
        "may_sign_off": calls.sign_off_offered(actor, record, tests),
        "may_upgrade": actor.role in calls.UPGRADE_REQUESTERS and record.state == "certified",
        "describe": calls.describe,
        "may_edit": actor.role in registry.SITE_REGISTRARS,
        "contacts_text": contacts_text(site.contacts),
        "zones": sorted(sites.known_zones()),
    }


@router.get("/certification/sites/{site_id:int}")
async def site_page(request: Request, site_id: int, db: Db, actor: CurrentActor) -> Response:
    context = await _site_context(db, actor, site_id)
    return render(request, "certification/site.html", context, actor=actor)


@router.post("/certification/sites/{site_id:int}/tests")
async def run_test(site_id: int, db: Db, actor: CurrentActor) -> Response:
    await calls.request_test(db, site_id, by=actor)
    return RedirectResponse(f"/certification/sites/{site_id}", status_code=303)


@router.post("/certification/sites/{site_id:int}/sign-off")
async def sign_off(request: Request, site_id: int, db: Db, actor: CurrentActor) -> Response:
    try:
        async with db.begin_nested():
            await calls.sign_off(db, site_id, by=actor)
    except Conflict as refusal:
        context = await _site_context(db, actor, site_id)
        context["refusal"] = refusal.detail
        return render(request, "certification/site.html", context, actor=actor, status_code=409)
    return RedirectResponse(f"/certification/sites/{site_id}", status_code=303)


@router.post("/certification/sites/{site_id:int}/upgrade")
async def request_upgrade(site_id: int, db: Db, actor: CurrentActor) -> Response:
    await calls.request_upgrade(db, site_id, by=actor)
    return RedirectResponse(f"/certification/sites/{site_id}", status_code=303)


@router.get("/certification/import")
async def import_page(request: Request, db: Db, actor: CurrentActor) -> Response:
    records.require_certifier(actor, "import sites")
    return await _import_form(request, db, actor)


async def _import_form(
    request: Request, db: AsyncSession, actor: Actor, status_code: int = 200, **extra: Any
) -> Response:
    customers = await registry.list_customers(db, by=actor)
    context = {"customers": customers, "columns": sites.IMPORT_COLUMNS, **extra}
    return render(
        request, "certification/import.html", context, actor=actor, status_code=status_code
    )


@router.post("/certification/import")
async def import_upload(request: Request, db: Db, actor: CurrentActor) -> Response:
    records.require_certifier(actor, "import sites")
    form = await request.form()
    customer_field, upload = form.get("customer_id"), form.get("file")
    customer_id = (
        int(customer_field) if isinstance(customer_field, str) and customer_field.isdigit() else 0
    )
    if not 1 <= customer_id <= MAX_KEY:
        return await _import_form(request, db, actor, 422, refusal="Choose a customer.")
    # A form's file is Starlette's UploadFile (FastAPI's is a subclass of it).
    if not isinstance(upload, UploadFile):
        return await _import_form(request, db, actor, 422, refusal="Choose a CSV file.")
    content = await upload.read(sites.MAX_IMPORT_BYTES + 1)
    try:
        async with db.begin_nested():
            created = await sites.import_sites(db, customer_id, content, by=actor)
    except InvalidInput as refusal:
        return await _import_form(
            request,
            db,
            actor,
            422,
            refusal=refusal.detail,
            errors=refusal.data.get("errors", []),
            chosen=customer_id,
        )
    return await _import_form(request, db, actor, imported=created, chosen=customer_id)


CONTACT_FIELDS = ("name", "phone", "pager", "mobile", "email")


def contacts_text(contacts: list[dict[str, Any]]) -> str:
    """One contact per line, fields separated by '|': name | phone | pager | mobile | email."""
    return "\n".join(" | ".join(str(c.get(k) or "") for k in CONTACT_FIELDS) for c in contacts)


def parse_contacts(text: str) -> list[dict[str, str]]:
    contacts = []
    for line in text.splitlines():
        if not line.strip():
            continue
        values = [v.strip() for v in line.split("|")]
        if len(values) > len(CONTACT_FIELDS):
            raise InvalidInput(f"Too many '|' fields in the contact line {line.strip()!r}.")
        contacts.append({k: v for k, v in zip(CONTACT_FIELDS, values, strict=False) if v})
    return contacts


@router.post("/certification/sites/{site_id:int}/details")
async def update_details(request: Request, site_id: int, db: Db, actor: CurrentActor) -> Response:
    """The site's registry entry edited from its page; same rules as PATCH /api/v1/sites/{id}."""
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
    try:
        async with db.begin_nested():
            patch = SitePatch.model_validate(
                {
                    **{k: fields[k] or None for k in ("audio_uri",) if k in fields},
                    **{
                        k: fields[k]
                        for k in ("name", "timezone", "sip_uri", "billing_zone", "max_speed_kbps")
                        if fields.get(k)
                    },
                    "contacts": parse_contacts(fields.get("contacts", "")),
                }
            )
            await sites.update_site(db, site_id, patch.changes(), by=actor)
    except (ValidationError, ValueError, DomainError) as refusal:
        context = await _site_context(db, actor, site_id)
        context["details_refusal"] = _refusal_text(refusal)
        return render(request, "certification/site.html", context, actor=actor, status_code=422)
    return RedirectResponse(f"/certification/sites/{site_id}", status_code=303)


def _refusal_text(refusal: Exception) -> str:
    if isinstance(refusal, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in refusal.errors()
        )
    if isinstance(refusal, DomainError):
        return refusal.detail
    return str(refusal)
