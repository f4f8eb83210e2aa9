"""Calendar subscriptions: the page listing the customer's and each site's iCalendar feed, and
the button that issues a feed key and shows the URL a calendar application subscribes to.

A feed key is kept only as a digest, so an earlier key cannot be shown again: each press
issues a new one (the old ones keep working until they expire or are revoked)."""

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import Response

from bridgedesk.auth import FEED_KEY_PARAM, FEED_KIND, CurrentActor, issue_token
from bridgedesk.db import Db
from bridgedesk.errors import NotAuthenticated
from bridgedesk.models import User
from bridgedesk.web import render
from reservations.pages.context import page_router
from reservations.service import registry

router = page_router()


async def _feeds(db: Db, actor: CurrentActor) -> dict[str, object]:
    customers = (
        await registry.list_customers(db, by=actor)
        if actor.is_provider
        else [await registry.get_customer(db, actor.customer_id or 0, by=actor)]
    )
    return {"customers": customers, "sites": await registry.list_sites(db, by=actor)}


@router.get("/calendar")
async def calendar_page(request: Request, db: Db, actor: CurrentActor) -> Response:
    context = {**await _feeds(db, actor), "feed": None}
    return render(request, "reservations/calendar.html", context, actor=actor)


@router.post("/calendar/subscribe")
async def subscribe(
    request: Request,
    db: Db,
    actor: CurrentActor,
    feed: Annotated[str, Form(pattern=r"^(customer|site)-\d{1,10}$")],
) -> Response:
    """Check the caller may read the feed, issue a feed key, and show the URL with it."""
    kind, _, number = feed.partition("-")
    if kind == "customer":
        customer = await registry.get_customer(db, int(number), by=actor)
        path, label = f"/api/v1/customers/{customer.id}/calendar.ics", customer.name
    else:
        site = await registry.get_site(db, int(number), by=actor)
        path, label = f"/api/v1/sites/{site.id}/calendar.ics", site.name
    user = await db.get(User, actor.user_id)
    if user is None:
        raise NotAuthenticated()
    secret, token = await issue_token(db, user, kind=FEED_KIND)
    base = str(request.base_url).rstrip("/")
    context = {
        **await _feeds(db, actor),
        "feed": {"label": label, "url": f"{base}{path}?{FEED_KEY_PARAM}={secret}"},
        "expires_at": token.expires_at,
    }
    return render(request, "reservations/calendar.html", context, actor=actor)
