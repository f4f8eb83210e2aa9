"""JSON routes for customers, sites, bridges and conferences: parse, call the service, shape."""

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from bridgedesk.auth import CurrentActor, require_role
from bridgedesk.clock import utcnow
from bridgedesk.db import Db
from bridgedesk.errors import InvalidInput
from bridgedesk.identity import Actor, Role
from reservations.models import ConferenceStatus
from reservations.schemas import (
    AvailabilityOut,
    BridgeIn,
    BridgeOut,
    BusyOut,
    ConferenceIn,
    ConferenceList,
    ConferenceOut,
    CustomerIn,
    CustomerOut,
    SiteBusyOut,
    SiteIn,
    SiteOut,
)
from reservations.service import booking, confirmation, queries, registry

router = APIRouter(prefix="/api/v1", tags=["reservations"])

Staff = Annotated[Actor, require_role(Role.ADMIN, Role.OPERATOR)]
Operator = Annotated[Actor, require_role(Role.ADMIN, Role.OPERATOR)]
ProviderStaff = Annotated[
    Actor, require_role(Role.ADMIN, Role.OPERATOR, Role.TECHNICIAN, Role.FINANCE)
]

# Availability windows longer than this are refused rather than scanned.
MAX_AVAILABILITY_SPAN = timedelta(days=62)


def _out(conference: object) -> ConferenceOut:
    return ConferenceOut.from_model(conference, now=utcnow())  # type: ignore[arg-type]


@router.post("/customers", status_code=201)
async def create_customer(body: CustomerIn, db: Db, actor: Staff) -> CustomerOut:
    return CustomerOut.from_model(await registry.create_customer(db, body.to_data()))


@router.get("/customers")
async def list_customers(db: Db, actor: CurrentActor) -> list[CustomerOut]:
    return [CustomerOut.from_model(c) for c in await registry.list_customers(db, by=actor)]


@router.get("/customers/{customer_id}")
async def get_customer(customer_id: int, db: Db, actor: CurrentActor) -> CustomerOut:
    return CustomerOut.from_model(await registry.get_customer(db, customer_id, by=actor))


@router.post("/sites", status_code=201)
async def create_site(body: SiteIn, db: Db, actor: CurrentActor) -> SiteOut:
    return SiteOut.from_model(await registry.create_site(db, body.to_data(), by=actor))


@router.get("/sites")
async def list_sites(db: Db, actor: CurrentActor, customer_id: int | None = None) -> list[SiteOut]:
    sites = await registry.list_sites(db, by=actor, customer_id=customer_id)
    return [SiteOut.from_model(s) for s in sites]


@router.get("/sites/{site_id}")
async def get_site(site_id: int, db: Db, actor: CurrentActor) -> SiteOut:
    return SiteOut.from_model(await registry.get_site(db, site_id, by=actor))


@router.post("/bridges", status_code=201)
async def create_bridge(body: BridgeIn, db: Db, actor: Staff) -> BridgeOut:
    return BridgeOut.from_model(await registry.create_bridge(db, body.to_data()))


@router.get("/bridges")
async def list_bridges(db: Db, actor: ProviderStaff) -> list[BridgeOut]:
    return [BridgeOut.from_model(b) for b in await registry.list_bridges(db)]


@router.post("/conferences", status_code=201)
async def create_conference(body: ConferenceIn, db: Db, actor: CurrentActor) -> ConferenceOut:
    return _out(await booking.book(db, body.to_request(), by=actor))


@router.get("/conferences")
async def list_conferences(
    db: Db,
    actor: CurrentActor,
    site_id: int | None = None,
    from_: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    to: AwareDatetime | None = None,
    status: ConferenceStatus | None = None,
    customer_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> ConferenceList:
    items, total = await queries.list_conferences(
        db,
        queries.ConferenceFilter(
            site_id=site_id,
            start_from=from_,
            start_to=to,
            status=status,
            customer_id=customer_id,
            limit=limit,
            offset=offset,
        ),
        by=actor,
    )
    return ConferenceList(items=[_out(c) for c in items], total=total)


@router.get("/conferences/{conference_id}")
async def get_conference(conference_id: int, db: Db, actor: CurrentActor) -> ConferenceOut:
    return _out(await queries.get_conference(db, conference_id, by=actor))


@router.post("/conferences/{conference_id}/confirm")
async def confirm_conference(conference_id: int, db: Db, actor: Operator) -> ConferenceOut:
    return _out(await confirmation.confirm(db, conference_id, by=actor))


@router.post("/conferences/{conference_id}/cancel")
async def cancel_conference(conference_id: int, db: Db, actor: CurrentActor) -> ConferenceOut:
    return _out(await booking.cancel(db, conference_id, by=actor))


@router.get("/confirmations")
async def confirmation_queue(db: Db, actor: Operator, overdue: bool = False) -> ConferenceList:
    items = await confirmation.confirmation_queue(db, by=actor, overdue_only=overdue)
    return ConferenceList(items=[_out(c) for c in items], total=len(items))


@router.get("/availability")
async def availability(
    db: Db,
    actor: CurrentActor,
    site_id: Annotated[list[int], Query(min_length=1, max_length=100)],
    from_: Annotated[AwareDatetime, Query(alias="from")],
    to: AwareDatetime,
) -> AvailabilityOut:
    if to <= from_ or to - from_ > MAX_AVAILABILITY_SPAN:
        raise InvalidInput("'to' must be after 'from' and at most 62 days later.")
    found = await queries.availability(db, site_id, from_, to, by=actor)
    return AvailabilityOut(
        sites=[
            SiteBusyOut(
                site_id=a.site.id,
                site_name=a.site.name,
                busy=[
                    BusyOut(start=b.start, end=b.end, conference_number=b.conference_number)
                    for b in a.busy
                ],
            )
            for a in found
        ]
    )
