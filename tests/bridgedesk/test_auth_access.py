"""Who may call what: every API route against every role, anonymous callers, and tenancy.

`ACCESS` is the one table of the API's access rules. A route added to the app without a
row here fails `test_every_api_route_is_in_the_access_table`.
"""

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from bridgedesk.clock import utcnow
from bridgedesk.identity import CUSTOMER_ROLES, Role
from bridgedesk.models import AuthToken, User
from tests.access_packages import PACKAGES
from tests.access_rules import (
    BOOKERS,
    EVERYONE,
    PROVIDER,
    SITE_REGISTRARS,
    STAFF,
    USER_MANAGERS,
    Rule,
    World,
)
from tests.conftest import PASSWORD
from tests.snapshots import snapshot

SHELL_AND_RESERVATIONS: dict[tuple[str, str], Rule] = {
    ("POST", "/api/v1/auth/token"): Rule(EVERYONE, public=True),
    ("GET", "/api/v1/users/me"): Rule(EVERYONE),
    ("POST", "/api/v1/auth/feed-key"): Rule(EVERYONE),
    ("POST", "/api/v1/auth/logout"): Rule(EVERYONE),
    ("GET", "/api/v1/auth/feed-keys"): Rule(EVERYONE),
    ("POST", "/api/v1/auth/feed-keys"): Rule(EVERYONE),
    ("DELETE", "/api/v1/auth/feed-keys/{key_id}"): Rule(EVERYONE),
    ("GET", "/api/v1/users"): Rule(USER_MANAGERS),
    ("POST", "/api/v1/users/{user_id}/deactivate"): Rule(frozenset({Role.ADMIN})),
    ("POST", "/api/v1/users/{user_id}/activate"): Rule(frozenset({Role.ADMIN})),
    ("POST", "/api/v1/users"): Rule(USER_MANAGERS, tenant=True),
    ("POST", "/api/v1/customers"): Rule(STAFF),
    ("GET", "/api/v1/customers"): Rule(EVERYONE),
    ("GET", "/api/v1/customers/{customer_id}"): Rule(EVERYONE, tenant=True),
    ("GET", "/api/v1/customers/{customer_id}/calendar.ics"): Rule(EVERYONE, tenant=True),
    ("POST", "/api/v1/sites"): Rule(SITE_REGISTRARS, tenant=True),
    ("GET", "/api/v1/sites"): Rule(EVERYONE),
    ("GET", "/api/v1/sites/{site_id}"): Rule(EVERYONE, tenant=True),
    ("GET", "/api/v1/sites/{site_id}/calendar.ics"): Rule(EVERYONE, tenant=True),
    ("POST", "/api/v1/bridges"): Rule(STAFF),
    ("GET", "/api/v1/bridges"): Rule(PROVIDER),
    ("POST", "/api/v1/conferences"): Rule(BOOKERS, tenant=True),
    ("POST", "/api/v1/conferences/adhoc"): Rule(BOOKERS, tenant=True),
    ("GET", "/api/v1/conferences"): Rule(EVERYONE),
    ("GET", "/api/v1/conferences/{conference_id}"): Rule(EVERYONE, tenant=True),
    ("PATCH", "/api/v1/conferences/{conference_id}"): Rule(BOOKERS, tenant=True),
    ("POST", "/api/v1/conferences/{conference_id}/confirm"): Rule(STAFF),
    ("POST", "/api/v1/conferences/{conference_id}/cancel"): Rule(BOOKERS, tenant=True),
    ("POST", "/api/v1/conferences/{conference_id}/extend"): Rule(BOOKERS, tenant=True),
    ("POST", "/api/v1/conferences/{conference_id}/sites"): Rule(BOOKERS, tenant=True),
    ("GET", "/api/v1/series/{series_id}"): Rule(EVERYONE, tenant=True),
    ("GET", "/api/v1/confirmations"): Rule(STAFF),
    ("GET", "/api/v1/availability"): Rule(EVERYONE, tenant=True),
}

# Each package keeps its routes' rows, the records its paths name and its request bodies in
# `tests/<package>/access.py` (tests/access_packages.py); with the rows above, the one table.
ACCESS: dict[tuple[str, str], Rule] = {
    **SHELL_AND_RESERVATIONS,
    **{route: rule for package in PACKAGES for route, rule in package.ACCESS.items()},
}


def _unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:8]}"


def _in_days(days: float) -> str:
    return (utcnow() + timedelta(days=days)).replace(microsecond=0).isoformat()


def request_for(route: tuple[str, str], world: World, caller: User | None) -> dict[str, Any]:
    """A well-formed request for the route, so that "allowed" can be told from "refused"."""
    _method, path = route
    a = world.customer_id
    if path == "/api/v1/auth/token":
        user = caller or world.admin
        return {"json": {"email": user.email, "password": PASSWORD}}
    if route == ("POST", "/api/v1/users"):
        return {
            "json": {
                "email": f"new-{uuid.uuid4().hex[:8]}@example.com",
                "name": "New Person",
                "password": "a-long-enough-password",
                "role": "billing",
                "customer_id": a,
            }
        }
    if route == ("POST", "/api/v1/auth/feed-keys"):
        return {"json": {"keep_others": True}}
    if route == ("POST", "/api/v1/customers"):
        return {"json": {"name": _unique("Customer"), "timezone": "Pacific/Kiritimati"}}
    if route == ("POST", "/api/v1/sites"):
        return {
            "json": {
                "customer_id": a,
                "name": _unique("Room"),
                "kind": "room",
                "timezone": "Pacific/Pago_Pago",
                "sip_uri": "sip:new-room@127.0.0.1",
                "max_speed_kbps": 768,
                "billing_zone": "PACIFIC",
            }
        }
    if route == ("POST", "/api/v1/bridges"):
        return {
            "json": {
                "name": _unique("Bridge"),
                "sip_uri": "sip:bridge@127.0.0.1",
                "ports": 48,
                "adhoc_reserve": 8,
            }
        }
    if route == ("POST", "/api/v1/conferences"):
        return {
            "json": {
                "customer_id": a,
                "title": "Access check",
                "leader_name": "Lee",
                "start": _in_days(9),
                "end": _in_days(9 + 1 / 24),
                "sites": [{"site_id": world.spare_site_id}],
            }
        }
    if route == ("POST", "/api/v1/conferences/adhoc"):
        return {
            "json": {
                "customer_id": a,
                "title": "Right now",
                "leader_name": "Lee",
                "sites": [{"site_id": world.spare_site_id}],
                "minutes": 30,
            }
        }
    if route == ("PATCH", "/api/v1/conferences/{conference_id}"):
        return {"json": {"start": _in_days(12), "end": _in_days(12 + 1 / 24)}}
    if path.endswith("/extend"):
        return {"json": {"minutes": 15}}
    if route == ("POST", "/api/v1/conferences/{conference_id}/sites"):
        return {"json": {"site_id": world.spare_site_id}}
    if path == "/api/v1/availability":
        return {"params": {"site_id": world.site_id, "from": _in_days(0), "to": _in_days(7)}}
    for package in PACKAGES:
        if route in package.ACCESS:
            return package.request_for(route, world, caller)
    return {}


def _route_id(route: tuple[str, str]) -> str:
    return f"{route[0]} {route[1]}"


ROLES: list[Role | None] = [*Role, None]


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.value if r else "anonymous")
@pytest.mark.parametrize("route", list(ACCESS), ids=_route_id)
async def test_route_access_by_role(db, world, client_as, anonymous, route, role):
    rule = ACCESS[route]
    if role is None:
        client: httpx.AsyncClient = anonymous
        caller = None
    else:
        customer_id = world.customer_id if role in CUSTOMER_ROLES else None
        client = await client_as(role, customer_id=customer_id)
        caller = client.user  # type: ignore[attr-defined]
    request = request_for(route, world, caller)  # reads the users, so before the snapshot
    before = await snapshot(db)
    response = await client.request(route[0], world.path(route[1]), **request)
    assert response.status_code < 500, response.text
    if role is None and not rule.public:
        assert response.status_code == 401, response.text
        assert response.json()["detail"]
    elif rule.public or role in rule.allowed:
        assert response.status_code not in (401, 403), response.text
        # request_for() sends a valid request, so an allowed caller is served, not merely
        # "not refused": a 422 here could hide a missing authorization check.
        assert response.is_success, response.text
        return
    else:
        assert response.status_code in (403, 404), response.text
        assert response.json()["detail"]
    # Refused callers change nothing: no row added, none altered.
    assert await snapshot(db) == before


TENANT_ROUTES = [route for route, rule in ACCESS.items() if rule.tenant]


@pytest.mark.parametrize("role", sorted(CUSTOMER_ROLES), ids=str)
@pytest.mark.parametrize("route", TENANT_ROUTES, ids=_route_id)
async def test_another_customers_users_cannot_reach_a_customers_data(
    db, world, client_as, route, role
):
    outsider = await client_as(role)  # a user of a brand-new, different customer
    request = request_for(route, world, None)
    before = await snapshot(db)
    response = await outsider.request(route[0], world.path(route[1]), **request)
    assert response.status_code in (403, 404), response.text
    assert response.json()["detail"]
    assert await snapshot(db) == before


async def test_lists_show_another_customers_users_nothing_of_a_customer(db, world, client_as):
    outsider = await client_as(Role.SCHEDULER)
    own = outsider.user.customer_id  # type: ignore[attr-defined]
    queries = {
        "/api/v1/customers": lambda body: [c["id"] for c in body],
        "/api/v1/sites": lambda body: [s["customer_id"] for s in body],
        f"/api/v1/sites?customer_id={world.customer_id}": lambda body: [
            s["customer_id"] for s in body
        ],
        "/api/v1/conferences": lambda body: [c["customer_id"] for c in body["items"]],
        f"/api/v1/conferences?customer_id={world.customer_id}": lambda body: [
            c["customer_id"] for c in body["items"]
        ],
        f"/api/v1/conferences?site_id={world.site_id}": lambda body: [
            c["customer_id"] for c in body["items"]
        ],
        "/api/v1/users": lambda body: [u["customer_id"] for u in body],
    }
    for url, customers_of in queries.items():
        response = await outsider.get(url)
        assert response.status_code == 200, (url, response.text)
        assert set(customers_of(response.json())) <= {own}, url
    # The same lists, for a user of that customer, do show its data (the control).
    insider = await client_as(Role.SCHEDULER, customer_id=world.customer_id)
    mine = (await insider.get("/api/v1/conferences")).json()
    assert world.conference_id in [c["id"] for c in mine["items"]]


async def test_a_scheduler_may_add_only_customer_roles_to_their_own_customer(db, world, client_as):
    scheduler = await client_as(Role.SCHEDULER, customer_id=world.customer_id)
    before = await snapshot(db)
    for role, customer_id in [("operator", None), ("admin", None), ("scheduler", None)]:
        response = await scheduler.post(
            "/api/v1/users",
            json={
                "email": f"x-{uuid.uuid4().hex[:8]}@example.com",
                "name": "X",
                "password": "a-long-enough-password",
                "role": role,
                "customer_id": customer_id,
            },
        )
        assert response.status_code in (403, 422), response.text
    assert await snapshot(db) == before
    added = await scheduler.post(
        "/api/v1/users",
        json={
            "email": "new-scheduler@example.com",
            "name": "Colleague",
            "password": "a-long-enough-password",
            "role": "scheduler",
            "customer_id": world.customer_id,
        },
    )
    assert added.status_code == 201, added.text
    assert added.json()["customer_id"] == world.customer_id


async def test_tokens_of_deactivated_users_stop_working(db, client_as):
    api = await client_as(Role.OPERATOR)
    assert (await api.get("/api/v1/users/me")).status_code == 200
    api.user.active = False  # type: ignore[attr-defined]
    await db.flush()
    assert (await api.get("/api/v1/users/me")).status_code == 401
    assert await db.scalar(select(func.count(AuthToken.id))) >= 1


def _registered_api_routes(app: Any) -> set[tuple[str, str]]:
    try:  # FastAPI that includes routers lazily keeps them behind route contexts
        from fastapi.routing import iter_route_contexts

        routes: Any = list(iter_route_contexts(app.routes))
    except ImportError:
        routes = app.routes
    return {
        (method, route.path)
        for route in routes
        if getattr(route, "path", "").startswith("/api/")
        for method in (getattr(route, "methods", None) or ())
        if method != "HEAD"
    }


def test_every_api_route_is_in_the_access_table(app):
    registered = _registered_api_routes(app)
    # Cross-check the walk against the published schema, so an empty walk cannot pass.
    published = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        if path.startswith("/api/")
        for method in operations
    }
    assert published and published <= registered
    assert registered - set(ACCESS) == set(), "routes without an access rule"
    assert set(ACCESS) - registered == set(), "access rules for routes that do not exist"
