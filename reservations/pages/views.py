"""Pages that show bookings: the day view, a conference, a series, and "my conferences"."""

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Form, Query, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from bridgedesk.auth import CurrentActor
from bridgedesk.clock import utcnow
from bridgedesk.db import Db
from bridgedesk.identity import Actor, Role
from bridgedesk.web import render
from reservations.models import Site
from reservations.pages.context import (
    Viewpoint,
    back_to,
    is_overdue,
    known_id,
    page_router,
    site_names,
    viewpoint,
)
from reservations.pages.forms import AdhocForm, calendar_day, optional_int
from reservations.pages.repeats import describe_rule
from reservations.service import booking, confirmation, live, queries, registry, series
from reservations.service.rescheduling import Scope, cancel

router = page_router()

# How the ad hoc and booking pages pass on what they could not do: "site id:conference number".
LEFT_OUT = re.compile(r"(\d{1,10}):(C-\d{4}-\d{6,10})")
MAX_SKIPPED_SHOWN = 800


# -- Day view --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DaySlot:
    """A free hour of a site's row, or consecutive hours held by the same bookings."""

    hour: int
    span: int
    busy: tuple[queries.BusyInterval, ...]
    book_url: str = ""


@dataclass(frozen=True)
class DayRow:
    site: Site
    customer_name: str
    slots: list[DaySlot]


def _hour_bounds(day: date, zone: ZoneInfo) -> list[datetime]:
    """25 UTC instants: each local hour's start, then the next midnight (DST days included)."""
    starts = [datetime.combine(day, time(hour), tzinfo=zone) for hour in range(24)]
    starts.append(datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone))
    return [start.astimezone(UTC) for start in starts]


def _book_url(site: Site, day: date, hour: int) -> str:
    end_day, end_hour = (day + timedelta(days=1), 0) if hour == 23 else (day, hour + 1)
    query = {"customer_id": site.customer_id, "site_id": site.id, "date": day.isoformat()}
    query |= {"start": f"{hour:02d}:00", "end": f"{end_hour:02d}:00"}
    if end_day != day:
        query["end_date"] = end_day.isoformat()
    return "/conferences/new?" + urlencode(query)


def _day_slots(
    site: Site, busy: Sequence[queries.BusyInterval], day: date, bounds: Sequence[datetime]
) -> list[DaySlot]:
    slots: list[DaySlot] = []
    for hour in range(24):
        start, end = bounds[hour], bounds[hour + 1]
        held = tuple(b for b in busy if b.start < end and b.end > start)
        last = slots[-1] if slots else None
        same = last is not None and {b.conference_id for b in held} == {
            b.conference_id for b in last.busy
        }
        if held and last is not None and same:
            slots[-1] = replace(last, span=last.span + 1)
        else:
            slots.append(DaySlot(hour, 1, held, "" if held else _book_url(site, day, hour)))
    return slots


async def adhoc_panel(
    db: AsyncSession, actor: Actor, view: Viewpoint, sites: Sequence[Site] | None = None
) -> dict[str, Any]:
    """The "ad hoc conference now" form: the customer's sites, or first the customer to choose."""
    if not booking.may_book(actor):
        return {"adhoc": None}
    customer = view.customer
    if customer is not None and sites is None:
        sites = await registry.list_sites(db, by=actor, customer_id=customer.id)
    return {
        "adhoc": AdhocForm(customer_id=str(customer.id) if customer else ""),
        "adhoc_customer": customer,
        "adhoc_sites": sites or [],
        "adhoc_choices": view.choices,
    }


async def _day_view(db: AsyncSession, actor: Actor, customer_id: int | None, day_text: str) -> Any:
    view = await viewpoint(db, actor, customer_id)
    day = (
        calendar_day(day_text, "The date must look like 2027-01-31.")
        if day_text.strip()
        else utcnow().astimezone(view.zone).date()
    )
    chosen = view.customer.id if view.customer else None
    sites = await registry.list_sites(db, by=actor, customer_id=chosen)
    bounds = _hour_bounds(day, view.zone)
    found = (
        await queries.availability(db, [s.id for s in sites], bounds[0], bounds[-1], by=actor)
        if sites
        else []
    )
    names = {c.id: c.name for c in view.choices}
    rows = [
        DayRow(a.site, names.get(a.site.customer_id, ""), _day_slots(a.site, a.busy, day, bounds))
        for a in found
    ]

    def day_url(other: date) -> str:
        return "/day?" + urlencode({"date": other.isoformat(), "customer_id": chosen or ""})

    return {
        "viewpoint": view,
        "day": day,
        "rows": rows,
        "prev_url": day_url(day - timedelta(days=1)),
        "next_url": day_url(day + timedelta(days=1)),
        "today_url": day_url(utcnow().astimezone(view.zone).date()),
        **await adhoc_panel(db, actor, view, sites if view.customer else None),
    }


@router.get("/day")
async def day_view(
    request: Request,
    db: Db,
    actor: CurrentActor,
    day: Annotated[str, Query(alias="date", max_length=10)] = "",
    customer_id: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    context = await _day_view(db, actor, optional_int(customer_id, "customer_id"), day)
    return render(request, "reservations/day.html", context, actor=actor)


# -- A conference ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LeftOut:
    """A site an ad hoc conference went ahead without, because it was in another meeting."""

    site_name: str
    conference_number: str


def _left_out(values: Sequence[str], names: dict[int, str]) -> list[LeftOut]:
    found = (LEFT_OUT.fullmatch(value) for value in values[:200])
    return [
        LeftOut(names[int(m.group(1))], m.group(2))
        for m in found
        if m and int(m.group(1)) in names  # only the conference's customer's own sites
    ]


async def conference_page(
    db: AsyncSession, actor: Actor, conference_id: int, left_out: Sequence[str] = ()
) -> dict[str, Any]:
    """The conference page's context; the ad hoc, extend and add-site routes render it too."""
    conference = await queries.get_conference(
        db, known_id(conference_id, queries.ConferenceNotFound), by=actor
    )
    customer = await registry.get_customer(db, conference.customer_id, by=actor)
    may_change = live.may_change(actor, conference)
    sites = (
        await registry.list_sites(db, by=actor, customer_id=customer.id)
        if may_change or (conference.adhoc and left_out)
        else []
    )
    names = {s.id: s.name for s in sites} | await site_names(db, [conference])
    taking_part = {hold.site_id for hold in conference.sites}
    return {
        "conference": conference,
        "customer": customer,
        "zone": customer.timezone,
        "site_names": names,
        "overdue": is_overdue(conference, utcnow()),
        "may_cancel": booking.may_cancel(actor, conference),
        "may_confirm": confirmation.may_confirm(actor, conference),
        "may_change": may_change,
        "addable_sites": [s for s in sites if s.id not in taking_part],
        "left_out": _left_out(left_out, names) if conference.adhoc else [],
        "warnings": await registry.certification_warnings(db, sorted(taking_part)),
    }


@router.get("/conferences/{conference_id:int}")
async def conference_detail(
    request: Request, conference_id: int, db: Db, actor: CurrentActor
) -> Response:
    left_out = request.query_params.getlist("left_out")
    context = await conference_page(db, actor, conference_id, left_out)
    return render(request, "reservations/conference.html", context, actor=actor)


@router.post("/conferences/{conference_id:int}/cancel")
async def cancel_conference(
    conference_id: int,
    db: Db,
    actor: CurrentActor,
    return_to: Annotated[str, Form(max_length=100)] = "",
    scope: Annotated[Scope, Form()] = Scope.THIS,
) -> Response:
    """Cancel one booking, or (scope=following) it and the later meetings of its series."""
    conference_id = known_id(conference_id, queries.ConferenceNotFound)
    await cancel(db, conference_id, by=actor, scope=scope)
    return back_to(return_to, f"/conferences/{conference_id}")


# -- A series --------------------------------------------------------------------------------


def _skipped(values: Sequence[str]) -> list[datetime]:
    """The dates the booking skipped, as the booking form passed them on; nonsense is dropped."""
    starts = []
    for value in values[:MAX_SKIPPED_SHOWN]:
        try:
            start = datetime.fromisoformat(value)
        except ValueError:
            continue
        if start.tzinfo is not None:
            starts.append(start)
    return sorted(starts)


async def _series_page(
    db: AsyncSession, actor: Actor, series_id: int, skipped: Sequence[str]
) -> dict[str, Any]:
    found, members = await series.get_series(
        db, known_id(series_id, series.SeriesNotFound), by=actor
    )
    customer = await registry.get_customer(db, found.customer_id, by=actor)
    now = utcnow()
    return {
        "series": found,
        "members": members,
        "title": members[0].title if members else "",
        "customer": customer,
        "zone": found.timezone,
        "words": describe_rule(found.rrule, ZoneInfo(found.timezone)),
        "site_names": await site_names(db, members),
        "overdue": {c.id for c in members if is_overdue(c, now)},
        "cancellable": {c.id for c in members if booking.may_cancel(actor, c)},
        "skipped": _skipped(skipped),
    }


@router.get("/series/{series_id:int}")
async def series_detail(request: Request, series_id: int, db: Db, actor: CurrentActor) -> Response:
    context = await _series_page(db, actor, series_id, request.query_params.getlist("skipped"))
    return render(request, "reservations/series.html", context, actor=actor)


# -- My conferences --------------------------------------------------------------------------


async def _my_conferences(db: AsyncSession, actor: Actor) -> dict[str, Any]:
    """Schedulers: what they booked; provider staff: everything; both upcoming, soonest first."""
    now = utcnow()
    mine_only = actor.role == Role.SCHEDULER
    found, total = await queries.list_conferences(
        db,
        queries.ConferenceFilter(
            ends_after=now, requester_id=actor.user_id if mine_only else None, limit=200
        ),
        by=actor,
    )
    view = await viewpoint(db, actor, None)
    return {
        "conferences": found,
        "total": total,
        "mine_only": mine_only,
        "zone": view.zone_name,
        "customer_names": {c.id: c.name for c in view.choices},
        "site_names": await site_names(db, found),
        "overdue": {c.id for c in found if is_overdue(c, now)},
        **await adhoc_panel(db, actor, view),
    }


@router.get("/conferences/mine")
async def my_conferences(request: Request, db: Db, actor: CurrentActor) -> Response:
    context = await _my_conferences(db, actor)
    return render(request, "reservations/mine.html", context, actor=actor)
