"""The booking form: one meeting or a series, its live conflict check and its series preview."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from bridgedesk.auth import CurrentActor
from bridgedesk.clock import utcnow
from bridgedesk.db import Db
from bridgedesk.errors import Conflict, InvalidInput
from bridgedesk.identity import Actor
from bridgedesk.web import render
from reservations.models import Customer
from reservations.pages.context import (
    ConflictView,
    conflict_views,
    page_router,
    refused_conflicts,
    viewpoint,
)
from reservations.pages.forms import BookingForm, optional_int
from reservations.pages.repeats import WEEKDAY_NAMES, WEEKDAYS, describe_rule
from reservations.service import booking, registry, series

router = page_router()

TEMPLATE = "reservations/booking_form.html"


@dataclass(frozen=True)
class TakenOccurrence:
    """A date of a series that could not be booked, and what holds its sites then."""

    start: datetime
    end: datetime
    conflicts: list[ConflictView]


def taken_occurrences(data: Mapping[str, Any]) -> list[TakenOccurrence]:
    """The `skipped` list a refused series carries, with its ISO times made instants again."""
    return [
        TakenOccurrence(
            datetime.fromisoformat(s["start"]),
            datetime.fromisoformat(s["end"]),
            conflict_views(s.get("conflicts", ())),
        )
        for s in data.get("skipped", ())
        if isinstance(s, dict) and "start" in s and "end" in s
    ]


def series_url(series_id: int, skipped: Sequence[series.SkippedOccurrence]) -> str:
    """The series page, told which dates were skipped because they were taken."""
    query = urlencode([("skipped", s.start.isoformat()) for s in skipped])
    return f"/series/{series_id}" + (f"?{query}" if query else "")


async def _booking_customer(db: AsyncSession, actor: Actor, form: BookingForm) -> Customer:
    """Staff book for the customer they chose; a customer's users only for their own."""
    customer_id = (
        optional_int(form.customer_id, "The customer") if actor.is_provider else actor.customer_id
    )
    if customer_id is None:
        raise booking.InvalidBooking("Choose the customer first.")
    return await registry.get_customer(db, customer_id, by=actor)


async def _booking_page(db: AsyncSession, actor: Actor, form: BookingForm) -> dict[str, Any]:
    booking.require_booker(actor, "book conferences")
    chosen = optional_int(form.customer_id, "The customer") if actor.is_provider else None
    view = await viewpoint(db, actor, chosen)
    customer = view.customer
    sites = await registry.list_sites(db, by=actor, customer_id=customer.id) if customer else []
    return {
        "form": form,
        "viewpoint": view,
        "sites": sites,
        "zone": view.zone_name,
        "weekdays": list(zip(WEEKDAYS, WEEKDAY_NAMES, strict=True)),
    }


SITES_HINT = "Choose one or more sites to check whether they are free."


async def _draft(
    db: AsyncSession, actor: Actor, form: BookingForm
) -> tuple[Customer, booking.BookingRequest] | str:
    """The form's customer and times if complete enough to check, sites included; else what
    is missing (both previews say the same while the form is incomplete)."""
    try:
        customer = await _booking_customer(db, actor, form)
        draft = form.to_request(customer)
    except InvalidInput as incomplete:
        return incomplete.detail
    if not draft.sites:
        return SITES_HINT
    return customer, draft


async def _conflict_preview(db: AsyncSession, actor: Actor, form: BookingForm) -> dict[str, Any]:
    """What the live check under the form says: a hint while incomplete, else the conflicts."""
    drafted = await _draft(db, actor, form)
    if isinstance(drafted, str):
        return {"hint": drafted}
    customer, draft = drafted
    try:
        found = await booking.preview_conflicts(db, draft, by=actor)
    except InvalidInput as refusal:
        return {"hint": refusal.detail}
    return {
        "checked": True,
        "zone": customer.timezone,
        "conflicts": [
            ConflictView(c.site_name, c.conference_number, c.start, c.end) for c in found
        ],
    }


async def _series_preview(db: AsyncSession, actor: Actor, form: BookingForm) -> dict[str, Any]:
    """Every date the Repeats section gives, each free or taken (and by which conference)."""
    drafted = await _draft(db, actor, form)
    if isinstance(drafted, str):
        return {"hint": drafted}
    customer, draft = drafted
    try:
        rule = form.rule()
        if rule is None:
            return {"hint": "The meeting does not repeat."}
        occurrences = await series.preview_series(db, draft, rule, by=actor)
    except InvalidInput as refusal:
        return {"hint": refusal.detail}
    zone = ZoneInfo(customer.timezone)
    return {
        "occurrences": occurrences,
        "rule": rule,
        "words": describe_rule(rule, zone),
        "zone": customer.timezone,
        "skip": form.repeat.skip_conflicts,
    }


async def _book(db: AsyncSession, actor: Actor, form: BookingForm) -> str:
    """Book what the form says; the page to go to next."""
    customer = await _booking_customer(db, actor, form)
    request = form.to_request(customer)
    rule = form.rule()
    if rule is None:
        conference = await booking.book(db, request, by=actor)
        return f"/conferences/{conference.id}"
    booked = await series.book_series(
        db, request, rule, by=actor, skip_conflicts=form.repeat.skip_conflicts
    )
    return series_url(booked.series.id, booked.skipped)


@router.get("/conferences/new")
async def booking_form(request: Request, db: Db, actor: CurrentActor) -> Response:
    form = BookingForm.from_fields(request.query_params)
    context = await _booking_page(db, actor, form)
    form.fill_defaults(utcnow().astimezone(ZoneInfo(context["zone"])))
    return render(request, TEMPLATE, context, actor=actor)


@router.post("/conferences/new")
async def book_conference(request: Request, db: Db, actor: CurrentActor) -> Response:
    form = BookingForm.from_fields(await request.form())
    try:
        # The refusal is shown, not raised, so the request commits: the savepoint makes sure
        # nothing a refused booking may already have written goes with it.
        async with db.begin_nested():
            target = await _book(db, actor, form)
    except (Conflict, InvalidInput) as refusal:
        context = await _booking_page(db, actor, form)
        context |= {
            "refusal": refusal,
            "refused": refused_conflicts(refusal.data),
            "taken": taken_occurrences(refusal.data),
        }
        return render(request, TEMPLATE, context, actor=actor, status_code=refusal.status_code)
    return RedirectResponse(target, status_code=303)


@router.get("/conferences/conflicts")
async def conflict_preview(request: Request, db: Db, actor: CurrentActor) -> Response:
    context = await _conflict_preview(db, actor, BookingForm.from_fields(request.query_params))
    return render(request, "reservations/_conflicts.html", context, actor=actor)


@router.get("/conferences/series-preview")
async def series_preview(request: Request, db: Db, actor: CurrentActor) -> Response:
    context = await _series_preview(db, actor, BookingForm.from_fields(request.query_params))
    return render(request, "reservations/_series_preview.html", context, actor=actor)
