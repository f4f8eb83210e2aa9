"""The certification package's JSON API under /api/v1: thin handlers over its service."""

from typing import Annotated

from fastapi import APIRouter, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from bridgedesk.auth import CurrentActor, require_role
from bridgedesk.clock import utcnow
from bridgedesk.db import Db
from bridgedesk.errors import InvalidInput
from bridgedesk.identity import Actor, Role
from bridgedesk.schemas import Id
from certification.schemas import (
    CertificationOut,
    HistoryList,
    HistoryOut,
    ImportedOut,
    QueueOut,
    SitePatch,
    StatsOut,
    TestOut,
    UpgradeIn,
)
from certification.service import calls, records, reports, sites
from reservations.service import registry

router = APIRouter(prefix="/api/v1", tags=["certification"])

Certifier = Annotated[Actor, require_role(Role.ADMIN, Role.OPERATOR, Role.TECHNICIAN)]
ProviderStaff = Annotated[
    Actor, require_role(Role.ADMIN, Role.OPERATOR, Role.TECHNICIAN, Role.FINANCE)
]


async def _certification(db: AsyncSession, site_id: int, actor: Actor) -> CertificationOut:
    site, record, tests = await calls.overview(db, site_id, by=actor)
    return CertificationOut.from_records(site, record, tests, now=utcnow())


@router.get("/sites/{site_id}/certification")
async def get_certification(site_id: int, db: Db, actor: CurrentActor) -> CertificationOut:
    return await _certification(db, site_id, actor)


@router.get("/sites/{site_id}/history")
async def get_history(site_id: int, db: Db, actor: CurrentActor) -> HistoryList:
    rows = await records.history(db, site_id, by=actor)
    return HistoryList(items=[HistoryOut.from_model(r) for r in rows])


@router.patch("/sites/{site_id}")
async def update_site(
    site_id: int, body: SitePatch, db: Db, actor: CurrentActor
) -> registry.SiteView:
    """Complete or correct a site; completing its information starts its deadlines."""
    try:
        changes = body.changes()
    except ValueError as error:
        raise InvalidInput(str(error)) from None
    return registry.SiteView.from_model(await sites.update_site(db, site_id, changes, by=actor))


@router.post("/sites/{site_id}/certification/tests", status_code=202)
async def run_test(site_id: int, db: Db, actor: Certifier) -> TestOut:
    return TestOut.from_model(await calls.request_test(db, site_id, by=actor))


@router.post("/sites/{site_id}/certification/sign-off")
async def sign_off(site_id: int, db: Db, actor: Certifier) -> CertificationOut:
    await calls.sign_off(db, site_id, by=actor)
    return await _certification(db, site_id, actor)


@router.post("/sites/{site_id}/upgrade")
async def request_upgrade(
    site_id: int, db: Db, actor: CurrentActor, body: UpgradeIn | None = None
) -> CertificationOut:
    await calls.request_upgrade(db, site_id, by=actor, note=body.note if body else None)
    return await _certification(db, site_id, actor)


@router.get("/certification/queue")
async def certification_queue(db: Db, actor: Certifier, overdue: bool = False) -> QueueOut:
    return QueueOut.from_queue(await records.queue(db, by=actor, overdue_only=overdue))


@router.get("/certification/stats")
async def certification_stats(
    db: Db, actor: ProviderStaff, month: Annotated[str, Query(pattern=r"^\d{4}-\d{2}$")]
) -> StatsOut:
    figure = await reports.monthly_figure(db, month)
    return StatsOut(**vars(figure))


_CSV_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            },
        },
    }
}


@router.post("/sites/import", status_code=201, openapi_extra=_CSV_BODY)
async def import_sites(request: Request, db: Db, actor: Certifier, customer_id: Id) -> ImportedOut:
    """A rollout's sites from CSV (a multipart `file` or a text/csv body): all or nothing."""
    content = await _csv_body(request)
    created = await sites.import_sites(db, customer_id, content, by=actor)
    return ImportedOut(imported=len(created), site_ids=[s.id for s in created])


async def _csv_body(request: Request) -> bytes:
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise InvalidInput("Send the CSV as the form's 'file' field.")
        return await upload.read(sites.MAX_IMPORT_BYTES + 1)
    body = await request.body()
    if not body:
        raise InvalidInput("Send the CSV file as the request body or a multipart 'file'.")
    return body
