"""The bridge package's JSON API under /api/v1: thin handlers over its service."""

from typing import Annotated

from fastapi import APIRouter, Query

from bridge.schemas import (
    CallRecordsIn,
    CallRecordsOut,
    CauseIn,
    ConferenceId,
    ConferenceLegsOut,
    IncidentId,
    LaunchOut,
    ProbeId,
    ProbeIn,
    ProcedureAttemptIn,
    ProcedureOut,
    StepPosition,
    StoredOut,
)
from bridge.service import cdrs, leg_views, probes, procedure
from bridgedesk.auth import CurrentActor, require_role
from bridgedesk.db import MAX_KEY, Db
from bridgedesk.identity import Actor, Role
from bridgedesk.schemas import Instant, Offset

router = APIRouter(prefix="/api/v1", tags=["bridge"])

# Call-setup probes.

ProbeRunner = Annotated[Actor, require_role(Role.ADMIN, Role.OPERATOR, Role.TECHNICIAN)]
CauseJudge = Annotated[Actor, require_role(Role.ADMIN, Role.OPERATOR)]


@router.post("/probes", status_code=201)
async def queue_probe(body: ProbeIn, db: Db, actor: ProbeRunner) -> probes.ProbeView:
    """Queue a call-setup probe; a SIP worker runs it. Poll GET /probes/{id} for the result."""
    view = await probes.request_probe(
        db,
        sip_uri=body.sip_uri,
        method=body.method,
        hold_seconds=body.hold_seconds,
        purpose="api",
        answer_timeout_seconds=body.answer_timeout_seconds,
    )
    return view


@router.get("/probes/{probe_id}")
async def read_probe(probe_id: ProbeId, db: Db, actor: ProbeRunner) -> probes.ProbeView:
    return await probes.get_probe(db, probe_id)


@router.post("/probes/{probe_id}/cause")
async def reclassify_probe_cause(
    probe_id: ProbeId, body: CauseIn, db: Db, actor: CauseJudge
) -> probes.ProbeView:
    """An operator's judgement of the cause; the measured result itself never changes."""
    view = await probes.reclassify_cause(db, probe_id, body.cause, note=body.note, by=actor)
    return view


# Legs and call detail records.


# Importing an external MCU's records is operations' work; finance reads records (it rates
# them) but does not create the usage it bills.
RecordImporter = Annotated[Actor, require_role(Role.ADMIN, Role.OPERATOR)]
Key = Annotated[int, Query(ge=1, le=MAX_KEY)]


@router.get("/conferences/{conference_id}/legs")
async def conference_legs(
    conference_id: ConferenceId, db: Db, actor: CurrentActor
) -> ConferenceLegsOut:
    found = await leg_views.conference_legs(db, conference_id, by=actor)
    return ConferenceLegsOut(
        conference_id=found.conference.id,
        conference_number=found.conference.number,
        status=found.conference.status,
        launch=LaunchOut.from_model(found.launch) if found.launch else None,
        legs=list(found.legs),
    )


@router.post("/cdrs", status_code=201)
async def import_call_records(body: CallRecordsIn, db: Db, actor: RecordImporter) -> StoredOut:
    return StoredOut(stored=await cdrs.import_records(db, body.records))


@router.get("/cdrs")
async def list_call_records(
    db: Db,
    actor: CurrentActor,
    conference_number: Annotated[str | None, Query(min_length=1, max_length=20)] = None,
    site_id: Key | None = None,
    from_: Annotated[Instant | None, Query(alias="from")] = None,
    to: Annotated[Instant | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=cdrs.MAX_IMPORT_RECORDS)] = 1000,
    offset: Offset = 0,
) -> CallRecordsOut:
    records = await cdrs.list_records(
        db,
        # A customer's users see their own customer's records only; provider staff all.
        customer_id=None if actor.is_provider else actor.customer_id,
        conference_number=conference_number,
        site_id=site_id,
        start=from_,
        end=to,
        limit=limit,
        offset=offset,
    )
    return CallRecordsOut(items=list(records))


# The problem-call procedure of an incident that outlived its recovery window.

# The desk staff who work running calls (the live page's watchers).
ProcedureWorker = Annotated[Actor, require_role(Role.ADMIN, Role.OPERATOR, Role.TECHNICIAN)]


@router.get("/incidents/{incident_id}/procedure")
async def read_procedure(incident_id: IncidentId, db: Db, actor: ProcedureWorker) -> ProcedureOut:
    """The ordered steps with their contacts and every attempt so far (automatic ones too)."""
    return ProcedureOut.from_model(await procedure.get_procedure(db, incident_id))


@router.post("/incidents/{incident_id}/procedure/steps/{position}/attempts", status_code=201)
async def record_procedure_attempt(
    incident_id: IncidentId,
    position: StepPosition,
    body: ProcedureAttemptIn,
    db: Db,
    actor: ProcedureWorker,
) -> ProcedureOut:
    """One call made for one step and its outcome; answers the whole procedure."""
    view = await procedure.record_attempt(
        db, incident_id, position, outcome=body.outcome, note=body.note, by=actor
    )
    return ProcedureOut.from_model(view)
