"""What every reservations page shares: its router, whose view it is, and how it shows things."""

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends
from fastapi.responses import RedirectResponse
from sqlalchemy.ext.asyncio import AsyncSession

from bridgedesk.auth import current_actor
from bridgedesk.db import MAX_KEY
from bridgedesk.errors import Forbidden, NotFound
from bridgedesk.identity import Actor
from reservations.models import Conference, Customer
from reservations.service import confirmation, registry

# Where the confirm and cancel buttons may send the user back to (never another host).
RETURN_PAGES = frozenset({"/confirmations", "/conferences/mine"})
RETURN_PATTERN = re.compile(r"/(series|conferences)/\d{1,10}")


def page_router() -> APIRouter:
    """Every reservations page needs a signed-in user (anyone else is sent to /login)."""
    return APIRouter(include_in_schema=False, dependencies=[Depends(current_actor)])


def back_to(return_to: str, default: str) -> RedirectResponse:
    safe = return_to in RETURN_PAGES or RETURN_PATTERN.fullmatch(return_to)
    return RedirectResponse(return_to if safe else default, status_code=303)


def known_id(value: int, missing: type[NotFound]) -> int:
    """The path's id, if it could be one: a huge number is a 404 rather than a driver error."""
    if value > MAX_KEY:
        raise missing()
    return value


def is_overdue(conference: Conference, now: datetime) -> bool:
    return confirmation.is_overdue(conference, now)


def until(due: datetime | None, now: datetime) -> str:
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


async def viewpoint(db: AsyncSession, actor: Actor, customer_id: int | None) -> Viewpoint:
    """Customer users always see their own customer; provider staff choose one, or none."""
    if not actor.is_provider:
        if actor.customer_id is None:
            raise Forbidden("Your account belongs to no customer.")
        return Viewpoint(await registry.get_customer(db, actor.customer_id, by=actor))
    choices = await registry.list_customers(db, by=actor)
    if customer_id is None:
        return Viewpoint(None, choices)
    return Viewpoint(await registry.get_customer(db, customer_id, by=actor), choices)


async def site_names(db: AsyncSession, conferences: Iterable[Conference]) -> dict[int, str]:
    ids = list(dict.fromkeys(hold.site_id for c in conferences for hold in c.sites))
    return {site_id: site.name for site_id, site in (await registry.sites_by_id(db, ids)).items()}


@dataclass(frozen=True)
class ConflictView:
    site_name: str
    conference_number: str
    start: datetime
    end: datetime


def conflict_views(items: Iterable[object]) -> list[ConflictView]:
    """Conflicts as a refusal's data carries them (dicts with ISO times), ready to show."""
    return [
        ConflictView(
            str(c.get("site_name", c.get("site_id", ""))),
            str(c.get("conference_number", "")),
            datetime.fromisoformat(c["start"]),
            datetime.fromisoformat(c["end"]),
        )
        for c in items
        if isinstance(c, dict) and "start" in c and "end" in c
    ]


def refused_conflicts(data: Mapping[str, Any]) -> list[ConflictView]:
    """The conflicts a SitesBusy refusal names, with its ISO times made instants again."""
    return conflict_views(data.get("conflicts", ()))
