"""JSON routes for customers, sites, bridges and conferences: parse, call the service, shape."""

from collections.abc import Sequence
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Response

from bridgedesk.auth import CalendarReader, CurrentActor, require_role
from bridgedesk.clock import utcnow
from bridgedesk.db import Db
from bridgedesk.errors import InvalidInput
from bridgedesk.identity import Actor, Role
from bridgedesk.schemas import Id, Instant, Offset
from bridgedesk.text import content_disposition
from reservations.models import Conference, ConferenceStatus
from reservations.schemas import (
    AdhocIn,
    AdhocOut,
    AvailabilityOut,
    BridgeIn,
    BridgeOut,
    BusyOut,
    CancelIn,
    ConferenceIn,
    ConferenceList,
    ConferenceOut,
    ConferencesOut,
    CustomerIn,
    CustomerOut,
    ExtendedOut,
    ExtendIn,
    MoveIn,
    OccurrenceOut,
    SeriesConferenceOut,
    SeriesOut,
    SiteBusyOut,
    SiteIn,
    SiteRequestIn,
    SkippedOut,
    UnavailableSiteOut,
)
from reservations.service import (
    booking,
    calendars,
    confirmation,
    live,
    queries,
    registry,
    rescheduling,
    series,
)

router = APIRouter(prefix="/api/v1", tags=["reservations"])

Operator = Annotated[Actor, require_role(Role.ADMIN, Role.OPERATOR)]
ProviderStaff = Annotated[
    Actor, require_role(Role.ADMIN, Role.OPERATOR, Role.TECHNICIAN, Role.FINANCE)
]

# Availability windows longer than this are refused rather than scanned.
MAX_AVAILABILITY_SPAN = timedelta(days=62)


def _out(conference: Conference) -> ConferenceOut:
    return ConferenceOut.from_model(conference, now=utcnow())


async def _outs(db: Db, conferences: Sequence[Conference]) -> list[ConferenceOut]:
    """Answers carrying a warning for each site not (or no longer) certified (SPEC §4)."""
    outs = [_out(c) for c in conferences]
    warned = await registry.certification_warnings_by_site(
        db, sorted({s.site_id for o in outs for s in o.sites})
    )
    for out in outs:
        out.warnings = [warned[s.site_id] for s in out.sites if s.site_id in warned]
    return outs


async def _warned(db: Db, conference: Conference) -> ConferenceOut:
    return (await _outs(db, [conference]))[0]


@router.post("/customers", status_code=201)
async def create_customer(body: CustomerIn, db: Db, actor: Operator) -> CustomerOut:
    return CustomerOut.from_model(await registry.create_customer(db, body.to_data(), by=actor))


@router.get("/customers")
async def list_customers(db: Db, actor: CurrentActor) -> list[CustomerOut]:
    return [CustomerOut.from_model(c) for c in await registry.list_customers(db, by=actor)]


@router.get("/customers/{customer_id}")
async def get_customer(customer_id: Id, db: Db, actor: CurrentActor) -> CustomerOut:
    return CustomerOut.from_model(await registry.get_customer(db, customer_id, by=actor))


@router.post("/sites", status_code=201)
async def create_site(body: SiteIn, db: Db, actor: CurrentActor) -> registry.SiteView:
    return registry.SiteView.from_model(await registry.create_site(db, body.to_data(), by=actor))


@router.get("/sites")
async def list_sites(
    db: Db, actor: CurrentActor, customer_id: Id | None = None
) -> list[registry.SiteView]:
    sites = await registry.list_sites(db, by=actor, customer_id=customer_id)
    return [registry.SiteView.from_model(s) for s in sites]


@router.get("/sites/{site_id}")
async def get_site(site_id: Id, db: Db, actor: CurrentActor) -> registry.SiteView:
    return registry.SiteView.from_model(await registry.get_site(db, site_id, by=actor))


@router.post("/bridges", status_code=201)
async def create_bridge(body: BridgeIn, db: Db, actor: Operator) -> BridgeOut:
    return BridgeOut.from_model(await registry.create_bridge(db, body.to_data(), by=actor))


@router.get("/bridges")
async def list_bridges(db: Db, actor: ProviderStaff) -> list[BridgeOut]:
    return [BridgeOut.from_model(b) for b in await registry.list_bridges(db)]


@router.post("/conferences", status_code=201)
async def create_conference(
    body: ConferenceIn, db: Db, actor: CurrentActor
) -> ConferenceOut | SeriesConferenceOut:
    if body.recurrence is None:
        return await _warned(db, await booking.book(db, body.to_request(), by=actor))
    booked = await series.book_series(
        db,
        body.to_request(),
        body.recurrence.rrule,
        by=actor,
        skip_conflicts=body.recurrence.skip_conflicts,
    )
    first = await _warned(db, booked.conferences[0])
    return SeriesConferenceOut(
        **first.model_dump(exclude={"series_id"}),
        series_id=booked.series.id,
        rrule=booked.series.rrule,
        occurrences=[OccurrenceOut.from_model(c) for c in booked.conferences],
        skipped=[SkippedOut.model_validate(series.skipped_dict(s)) for s in booked.skipped],
    )


@router.post("/conferences/adhoc", status_code=201)
async def create_adhoc_conference(body: AdhocIn, db: Db, actor: CurrentActor) -> AdhocOut:
    result = await live.start_adhoc(
        db,
        customer_id=body.customer_id,
        title=body.title,
        leader_name=body.leader_name,
        sites=[booking.SiteRequest(s.site_id, s.speed_kbps) for s in body.sites],
        length=timedelta(minutes=body.minutes),
        by=actor,
    )
    return AdhocOut(
        **(await _warned(db, result.conference)).model_dump(),
        unavailable_sites=[
            UnavailableSiteOut(
                site_id=c.site_id,
                site_name=c.site_name,
                conference_number=c.conference_number,
                start=c.start,
                end=c.end,
            )
            for c in result.unavailable
        ],
    )


@router.get("/conferences")
async def list_conferences(
    db: Db,
    actor: CurrentActor,
    site_id: Id | None = None,
    from_: Annotated[Instant | None, Query(alias="from")] = None,
    to: Instant | None = None,
    status: ConferenceStatus | None = None,
    customer_id: Id | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Offset = 0,
) -> ConferenceList:
    items, total = await queries.list_conferences(
        db,
        queries.ConferenceFilter(
            site_id=site_id,
            ends_after=from_,
            starts_before=to,
            status=status,
            customer_id=customer_id,
            limit=limit,
            offset=offset,
        ),
        by=actor,
    )
    return ConferenceList(items=await _outs(db, items), total=total)


@router.get("/conferences/{conference_id}")
async def get_conference(conference_id: Id, db: Db, actor: CurrentActor) -> ConferenceOut:
    return await _warned(db, await queries.get_conference(db, conference_id, by=actor))


@router.post("/conferences/{conference_id}/confirm")
async def confirm_conference(conference_id: Id, db: Db, actor: Operator) -> ConferenceOut:
    return await _warned(db, await confirmation.confirm(db, conference_id, by=actor))


@router.post("/conferences/{conference_id}/cancel")
async def cancel_conference(
    conference_id: Id, db: Db, actor: CurrentActor, body: CancelIn | None = None
) -> ConferenceOut:
    """Cancel one booking; with `{"scope": "following"}` also the rest of its series."""
    cancelled = await rescheduling.cancel(
        db, conference_id, by=actor, scope=body.scope if body else rescheduling.Scope.THIS
    )
    return await _warned(db, cancelled[0])


@router.patch("/conferences/{conference_id}")
async def move_conference(
    conference_id: Id, body: MoveIn, db: Db, actor: CurrentActor
) -> ConferencesOut:
    """Move a booking; with `scope: "following"` its series' later meetings shift alike."""
    moved = await rescheduling.move(
        db, conference_id, body.start, body.end, by=actor, scope=body.scope
    )
    return ConferencesOut(items=await _outs(db, moved))


@router.post("/conferences/{conference_id}/extend")
async def extend_conference(
    conference_id: Id, body: ExtendIn, db: Db, actor: CurrentActor
) -> ExtendedOut:
    conference, overruns = await live.extend(db, conference_id, body.minutes, by=actor)
    return ExtendedOut(
        **(await _warned(db, conference)).model_dump(),
        overrun_conflicts=overruns,
    )


@router.post("/conferences/{conference_id}/sites")
async def add_conference_site(
    conference_id: Id, body: SiteRequestIn, db: Db, actor: CurrentActor
) -> ConferenceOut:
    conference = await live.add_site(
        db, conference_id, booking.SiteRequest(body.site_id, body.speed_kbps), by=actor
    )
    return await _warned(db, conference)


@router.get("/series/{series_id}")
async def get_series(series_id: Id, db: Db, actor: CurrentActor) -> SeriesOut:
    found, members = await series.get_series(db, series_id, by=actor)
    return SeriesOut(
        id=found.id,
        customer_id=found.customer_id,
        rrule=found.rrule,
        timezone=found.timezone,
        first_start=found.first_start,
        duration_minutes=found.duration_minutes,
        occurrences=[OccurrenceOut.from_model(c) for c in members],
    )


@router.get("/customers/{customer_id}/calendar.ics", response_class=Response)
async def customer_calendar(customer_id: Id, db: Db, actor: CalendarReader) -> Response:
    return _ics(await calendars.customer_feed(db, customer_id, by=actor), f"customer-{customer_id}")


@router.get("/sites/{site_id}/calendar.ics", response_class=Response)
async def site_calendar(site_id: Id, db: Db, actor: CalendarReader) -> Response:
    return _ics(await calendars.site_feed(db, site_id, by=actor), f"site-{site_id}")


def _ics(body: bytes, name: str) -> Response:
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": content_disposition(f"{name}.ics")},
    )


@router.get("/confirmations")
async def confirmation_queue(db: Db, actor: Operator, overdue: bool = False) -> ConferenceList:
    items = await confirmation.confirmation_queue(db, by=actor, overdue_only=overdue)
    return ConferenceList(items=await _outs(db, items), total=len(items))


@router.get("/availability")
async def availability(
    db: Db,
    actor: CurrentActor,
    site_id: Annotated[list[Id], Query(min_length=1, max_length=100)],
    from_: Annotated[Instant, Query(alias="from")],
    to: Instant,
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
