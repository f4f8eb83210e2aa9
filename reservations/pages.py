"""Scheduler and operator pages: day view, booking form, my conferences, confirmation queue."""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import ImmutableMultiDict

from bridgedesk.auth import CurrentActor
from bridgedesk.clock import utcnow
from bridgedesk.db import Db
from bridgedesk.errors import Conflict, Forbidden, InvalidInput
from bridgedesk.identity import Actor, Role
from bridgedesk.web import render
from reservations.models import Conference, ConferenceStatus, Customer, Site
from reservations.service import booking, confirmation, queries, registry

router = APIRouter(include_in_schema=False)

# Lengths the database columns hold; the API's schema enforces the same.
MAX_NAME, MAX_PROJECT_CODE, MAX_SPEED_KBPS = 200, 60, 100_000
MAX_ID = 2**31 - 1
# Dates the pages accept: wide enough for any booking, narrow enough that no arithmetic overflows.
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(2999, 12, 31)
# Where the confirm and cancel buttons may send the user back to (never another host).
RETURN_PAGES = frozenset({"/confirmations", "/conferences/mine"})
CANCELLABLE = (ConferenceStatus.REQUESTED, ConferenceStatus.CONFIRMED)


def _optional_int(text: object, what: str) -> int | None:
    """A form's number field; ids beyond a 32-bit key are refused before the database sees them."""
    text = text.strip() if isinstance(text, str) else ""
    if not text:
        return None
    if not (text.isascii() and text.isdigit() and int(text) <= MAX_ID):
        raise InvalidInput(f"{what} must be a whole number.")
    return int(text)


def _calendar_day(text: str, problem: str) -> date:
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(problem) from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise InvalidInput(f"Choose a date between {FIRST_DAY} and {LAST_DAY}.")
    return day


def _clock_time(text: str, problem: str) -> time:
    try:
        return time.fromisoformat(text.strip()).replace(tzinfo=None)
    except ValueError:
        raise InvalidInput(problem) from None


def _aware(day: date, at: time, zone: ZoneInfo) -> datetime:
    """A wall-clock time in the zone as a UTC instant; times skipped by a clock change are 422."""
    local = datetime.combine(day, at, tzinfo=zone)
    instant = local.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != local.replace(tzinfo=None):
        raise InvalidInput(
            f"{at:%H:%M} on {day} does not exist in {zone.key}: the clocks change then."
        )
    return instant


def is_overdue(conference: Conference, now: datetime) -> bool:
    return (
        conference.status == ConferenceStatus.REQUESTED
        and conference.confirmation_due is not None
        and conference.confirmation_due < now
    )


def _until(due: datetime | None, now: datetime) -> str:
    """How long until (or since) a deadline, the way an operator reads it at a glance."""
    if due is None:
        return ""
    minutes = int(abs((due - now).total_seconds()) // 60)
    span = f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"
    return f"in {span}" if due >= now else f"{span} overdue"


@dataclass(frozen=True)
class Viewpoint:
    """Whose bookings a page shows and in which zone: one customer's, or everyone's in UTC."""

    customer: Customer | None
    choices: Sequence[Customer] = ()  # the customers provider staff may switch between

    @property
    def zone_name(self) -> str:
        return self.customer.timezone if self.customer else "UTC"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.zone_name)


async def _viewpoint(db: AsyncSession, actor: Actor, customer_id: int | None) -> Viewpoint:
    """Customer users always see their own customer; provider staff choose one, or none."""
    if not actor.is_provider:
        if actor.customer_id is None:
            raise Forbidden("Your account belongs to no customer.")
        return Viewpoint(await registry.get_customer(db, actor.customer_id, by=actor))
    choices = await registry.list_customers(db, by=actor)
    if customer_id is None:
        return Viewpoint(None, choices)
    return Viewpoint(await registry.get_customer(db, customer_id, by=actor), choices)


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


async def _day_view(db: AsyncSession, actor: Actor, customer_id: int | None, day_text: str) -> Any:
    viewpoint = await _viewpoint(db, actor, customer_id)
    day = (
        _calendar_day(day_text, "The date must look like 2027-01-31.")
        if day_text.strip()
        else utcnow().astimezone(viewpoint.zone).date()
    )
    chosen = viewpoint.customer.id if viewpoint.customer else None
    sites = await registry.list_sites(db, by=actor, customer_id=chosen)
    bounds = _hour_bounds(day, viewpoint.zone)
    found = (
        await queries.availability(db, [s.id for s in sites], bounds[0], bounds[-1], by=actor)
        if sites
        else []
    )
    names = {c.id: c.name for c in viewpoint.choices}
    rows = [
        DayRow(a.site, names.get(a.site.customer_id, ""), _day_slots(a.site, a.busy, day, bounds))
        for a in found
    ]

    def day_url(other: date) -> str:
        return "/day?" + urlencode({"date": other.isoformat(), "customer_id": chosen or ""})

    return {
        "viewpoint": viewpoint,
        "day": day,
        "rows": rows,
        "prev_url": day_url(day - timedelta(days=1)),
        "next_url": day_url(day + timedelta(days=1)),
        "today_url": day_url(utcnow().astimezone(viewpoint.zone).date()),
    }


@router.get("/day")
async def day_view(
    request: Request,
    db: Db,
    actor: CurrentActor,
    day: Annotated[str, Query(alias="date", max_length=10)] = "",
    customer_id: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    context = await _day_view(db, actor, _optional_int(customer_id, "customer_id"), day)
    return render(request, "reservations/day.html", context, actor=actor)


# -- Booking ---------------------------------------------------------------------------------


@dataclass
class BookingForm:
    """The booking form as typed, kept as text so that a refused form comes back unchanged."""

    customer_id: str = ""
    title: str = ""
    leader_name: str = ""
    project_code: str = ""
    date: str = ""
    start: str = ""
    end: str = ""
    end_date: str = ""  # blank: the same day as the start
    site_ids: list[int] = field(default_factory=list)
    speeds: dict[int, str] = field(default_factory=dict)

    @classmethod
    def from_fields(cls, fields: ImmutableMultiDict[str, Any]) -> "BookingForm":
        """From a submitted form or a query string (both are Starlette multi-dicts)."""

        def text(name: str) -> str:
            value = fields.get(name)
            return value.strip() if isinstance(value, str) else ""

        chosen = (_optional_int(v, "A site") for v in fields.getlist("site_id"))
        site_ids = list(dict.fromkeys(site_id for site_id in chosen if site_id is not None))
        names = ("customer_id", "title", "leader_name", "project_code", "date", "start", "end")
        return cls(
            **{name: text(name) for name in names},
            end_date=text("end_date"),
            site_ids=site_ids,
            speeds={site_id: text(f"speed_{site_id}") for site_id in site_ids},
        )

    def fill_defaults(self, now_local: datetime) -> None:
        """A fresh form proposes the next full hour, for an hour."""
        if not self.start:
            start = now_local.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
            self.date = self.date or start.date().isoformat()
            self.start = f"{start:%H:%M}"
        if not self.end:
            start_time = _clock_time(self.start, "Enter the start time.")
            self.end = f"{(start_time.hour + 1) % 24:02d}:{start_time.minute:02d}"
        if not self.date:
            self.date = now_local.date().isoformat()

    def interval(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        day = _calendar_day(self.date, "Enter the meeting date.")
        start = _clock_time(self.start, "Enter the start time.")
        end = _clock_time(self.end, "Enter the end time.")
        end_day = day
        if self.end_date:
            end_day = _calendar_day(self.end_date, "The end date is not a date.")
        elif end <= start:
            raise InvalidInput(
                "The end must be after the start; for a meeting past midnight, give the end date."
            )
        return _aware(day, start, zone), _aware(end_day, end, zone)

    def to_request(self, customer: Customer) -> booking.BookingRequest:
        for label, value, least, most in (
            ("title", self.title, 1, MAX_NAME),
            ("leader's name", self.leader_name, 1, MAX_NAME),
            ("project code", self.project_code, 0, MAX_PROJECT_CODE),
        ):
            # PostgreSQL refuses NUL in text, so it is a 422 here rather than a 500 there.
            if not least <= len(value) <= most or "\x00" in value:
                raise booking.InvalidBooking(f"Give the {label} in at most {most} characters.")
        speeds: dict[int, int | None] = {}
        for site_id, text in self.speeds.items():
            speed = _optional_int(text, "A speed")
            if speed is not None and not 0 < speed <= MAX_SPEED_KBPS:
                raise booking.InvalidBooking("A speed must be between 1 and 100000 kbps.")
            speeds[site_id] = speed
        start, end = self.interval(ZoneInfo(customer.timezone))
        return booking.BookingRequest(
            customer_id=customer.id,
            title=self.title,
            leader_name=self.leader_name,
            start=start,
            end=end,
            sites=[booking.SiteRequest(i, speeds.get(i)) for i in self.site_ids],
            project_code=self.project_code or None,
        )


@dataclass(frozen=True)
class ConflictView:
    site_name: str
    conference_number: str
    start: datetime
    end: datetime


def _refused_conflicts(data: Mapping[str, Any]) -> list[ConflictView]:
    """The conflicts a SitesBusy refusal names, with its ISO times made instants again."""
    return [
        ConflictView(
            str(c.get("site_name", c.get("site_id", ""))),
            str(c.get("conference_number", "")),
            datetime.fromisoformat(c["start"]),
            datetime.fromisoformat(c["end"]),
        )
        for c in data.get("conflicts", ())
        if isinstance(c, dict) and "start" in c and "end" in c
    ]


async def _booking_customer(db: AsyncSession, actor: Actor, form: BookingForm) -> Customer:
    """Staff book for the customer they chose; a customer's users only for their own."""
    customer_id = (
        _optional_int(form.customer_id, "The customer") if actor.is_provider else actor.customer_id
    )
    if customer_id is None:
        raise booking.InvalidBooking("Choose the customer first.")
    return await registry.get_customer(db, customer_id, by=actor)


async def _booking_page(db: AsyncSession, actor: Actor, form: BookingForm) -> dict[str, Any]:
    if actor.role not in booking.BOOKING_ROLES:
        raise Forbidden("Your role may not book conferences.")
    chosen = _optional_int(form.customer_id, "The customer") if actor.is_provider else None
    viewpoint = await _viewpoint(db, actor, chosen)
    customer = viewpoint.customer
    sites = await registry.list_sites(db, by=actor, customer_id=customer.id) if customer else []
    return {"form": form, "viewpoint": viewpoint, "sites": sites, "zone": viewpoint.zone_name}


async def _conflict_preview(db: AsyncSession, actor: Actor, form: BookingForm) -> dict[str, Any]:
    """What the live check under the form says: a hint while incomplete, else the conflicts."""
    try:
        customer = await _booking_customer(db, actor, form)
        start, end = form.interval(ZoneInfo(customer.timezone))
        booking.check_times(start, end)
    except InvalidInput as incomplete:
        return {"hint": incomplete.detail}
    if start <= utcnow():
        return {"hint": "The start is in the past."}
    if not form.site_ids:
        return {"hint": "Choose one or more sites to check whether they are free."}
    # Only the customer's own sites: other customers' bookings are none of the viewer's business.
    known = await registry.sites_by_id(db, form.site_ids)
    own = [i for i in form.site_ids if i in known and known[i].customer_id == customer.id]
    found = await booking.find_conflicts(db, own, start, end)
    return {
        "checked": True,
        "zone": customer.timezone,
        "conflicts": [
            ConflictView(c.site_name, c.conference_number, c.start, c.end) for c in found
        ],
    }


@router.get("/conferences/new")
async def booking_form(request: Request, db: Db, actor: CurrentActor) -> Response:
    form = BookingForm.from_fields(request.query_params)
    context = await _booking_page(db, actor, form)
    form.fill_defaults(utcnow().astimezone(ZoneInfo(context["zone"])))
    return render(request, "reservations/booking_form.html", context, actor=actor)


@router.post("/conferences/new")
async def book_conference(request: Request, db: Db, actor: CurrentActor) -> Response:
    form = BookingForm.from_fields(await request.form())
    try:
        # The refusal is shown, not raised, so the request commits: the savepoint makes sure
        # nothing a refused booking may already have written goes with it.
        async with db.begin_nested():
            customer = await _booking_customer(db, actor, form)
            conference = await booking.book(db, form.to_request(customer), by=actor)
    except (Conflict, InvalidInput) as refusal:
        context = await _booking_page(db, actor, form)
        context |= {"refusal": refusal, "refused": _refused_conflicts(refusal.data)}
        return render(
            request,
            "reservations/booking_form.html",
            context,
            actor=actor,
            status_code=refusal.status_code,
        )
    return RedirectResponse(f"/conferences/{conference.id}", status_code=303)


@router.get("/conferences/conflicts")
async def conflict_preview(request: Request, db: Db, actor: CurrentActor) -> Response:
    context = await _conflict_preview(db, actor, BookingForm.from_fields(request.query_params))
    return render(request, "reservations/_conflicts.html", context, actor=actor)


# -- Conferences -----------------------------------------------------------------------------


async def _site_names(db: AsyncSession, conferences: Iterable[Conference]) -> dict[int, str]:
    ids = list(dict.fromkeys(hold.site_id for c in conferences for hold in c.sites))
    return {site_id: site.name for site_id, site in (await registry.sites_by_id(db, ids)).items()}


def _known_id(conference_id: int) -> int:
    """The path's id, if it could be one: a huge number is a 404 rather than a driver error."""
    if conference_id > MAX_ID:
        raise queries.ConferenceNotFound()
    return conference_id


async def _conference_page(db: AsyncSession, actor: Actor, conference_id: int) -> dict[str, Any]:
    conference = await queries.get_conference(db, _known_id(conference_id), by=actor)
    customer = await registry.get_customer(db, conference.customer_id, by=actor)
    return {
        "conference": conference,
        "customer": customer,
        "zone": customer.timezone,
        "site_names": await _site_names(db, [conference]),
        "overdue": is_overdue(conference, utcnow()),
        "may_cancel": actor.role in booking.BOOKING_ROLES and conference.status in CANCELLABLE,
        "may_confirm": actor.role in confirmation.CONFIRMING_ROLES
        and conference.status == ConferenceStatus.REQUESTED,
    }


@router.get("/conferences/{conference_id:int}")
async def conference_detail(
    request: Request, conference_id: int, db: Db, actor: CurrentActor
) -> Response:
    context = await _conference_page(db, actor, conference_id)
    return render(request, "reservations/conference.html", context, actor=actor)


def _back_to(return_to: str, conference_id: int) -> RedirectResponse:
    target = return_to if return_to in RETURN_PAGES else f"/conferences/{conference_id}"
    return RedirectResponse(target, status_code=303)


@router.post("/conferences/{conference_id:int}/cancel")
async def cancel_conference(
    conference_id: int,
    db: Db,
    actor: CurrentActor,
    return_to: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    await booking.cancel(db, _known_id(conference_id), by=actor)
    return _back_to(return_to, conference_id)


@router.post("/conferences/{conference_id:int}/confirm")
async def confirm_conference(
    conference_id: int,
    db: Db,
    actor: CurrentActor,
    return_to: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    await confirmation.confirm(db, _known_id(conference_id), by=actor)
    return _back_to(return_to, conference_id)


async def _my_conferences(db: AsyncSession, actor: Actor) -> dict[str, Any]:
    """Schedulers: what they booked; provider staff: everything; both upcoming, soonest first."""
    now = utcnow()
    mine_only = actor.role == Role.SCHEDULER
    found, total = await queries.list_conferences(
        db,
        queries.ConferenceFilter(
            start_from=now, requester_id=actor.user_id if mine_only else None, limit=200
        ),
        by=actor,
    )
    viewpoint = await _viewpoint(db, actor, None)
    return {
        "conferences": found,
        "total": total,
        "mine_only": mine_only,
        "zone": viewpoint.zone_name,
        "customer_names": {c.id: c.name for c in viewpoint.choices},
        "site_names": await _site_names(db, found),
        "overdue": {c.id for c in found if is_overdue(c, now)},
    }


@router.get("/conferences/mine")
async def my_conferences(request: Request, db: Db, actor: CurrentActor) -> Response:
    context = await _my_conferences(db, actor)
    return render(request, "reservations/mine.html", context, actor=actor)


async def _confirmation_queue(db: AsyncSession, actor: Actor, overdue_only: bool) -> Any:
    waiting = await confirmation.confirmation_queue(db, by=actor, overdue_only=overdue_only)
    now = utcnow()
    customers = {c.id: c for c in await registry.list_customers(db, by=actor)}
    return {
        "waiting": waiting,
        "overdue_only": overdue_only,
        "customers": customers,
        "site_names": await _site_names(db, waiting),
        "overdue": {c.id for c in waiting if is_overdue(c, now)},
        "until": {c.id: _until(c.confirmation_due, now) for c in waiting},
    }


@router.get("/confirmations")
async def confirmation_queue(
    request: Request, db: Db, actor: CurrentActor, overdue: bool = False
) -> Response:
    context = await _confirmation_queue(db, actor, overdue)
    return render(request, "reservations/confirmations.html", context, actor=actor)
