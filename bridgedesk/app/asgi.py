"""The web application: every package's routers, one error policy, the schema upgraded on start,
and the edge every request passes (body limit, security headers, form text rule)."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

from anyio import to_thread
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException as StarletteHTTPException

from billing import api as billing_api
from billing import pages as billing_pages
from bridge import api as bridge_api
from bridge import pages as bridge_pages
from bridgedesk import api as shell_api
from bridgedesk import openapi, user_pages
from bridgedesk import pages as shell_pages
from bridgedesk.app import docs, figures
from bridgedesk.availability import (
    UNAVAILABLE,
    DatabaseGate,
    DatabaseGateMiddleware,
    lost_connection_handler,
)
from bridgedesk.db import database
from bridgedesk.errors import DomainError, NotAuthenticated
from bridgedesk.forms import refuse_control_characters
from bridgedesk.identity import Actor
from bridgedesk.limits import BodyLimit
from bridgedesk.logs import install_redaction
from bridgedesk.migrate import upgrade
from bridgedesk.security_headers import SecurityHeaders
from bridgedesk.settings import get_settings
from bridgedesk.web import render_error
from certification import api as certification_api
from certification import pages as certification_pages
from monitoring.api import desk as desk_api
from monitoring.api import reports as monitoring_reports_api
from monitoring.api import tickets as tickets_api
from monitoring.api import uptime as uptime_api
from monitoring.pages import dashboard as monitoring_pages
from monitoring.pages import maintenance as maintenance_pages
from reservations import api as reservations_api
from reservations.pages import booking as booking_pages
from reservations.pages import calendars as calendar_pages
from reservations.pages import live as live_pages
from reservations.pages import operators as operator_pages
from reservations.pages import sites as site_pages
from reservations.pages import views as view_pages

log = logging.getLogger(__name__)

# The routes that take a batch (CDR import, site CSV import, by API and by page) get the larger
# body limit (settings.max_bulk_body_bytes); every other route the smaller one.
BULK_ROUTES = frozenset(
    {
        ("POST", "/api/v1/cdrs"),
        ("POST", "/api/v1/sites/import"),
        ("POST", "/certification/import"),
    }
)


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path in ("/healthz",)


def _signed_in(request: Request) -> Actor | None:
    """The actor a page's dependencies found before the error, so its page keeps the menu."""
    actor = getattr(request.state, "actor", None)
    return actor if isinstance(actor, Actor) else None


def _validation_errors(error: RequestValidationError) -> list[dict[str, Any]]:
    """Pydantic's errors without the exception objects it keeps in `ctx` (not JSON)."""
    return [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in error.errors()
    ]


async def _domain_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, DomainError)
    if _wants_json(request):
        headers = dict(error.headers)
        if isinstance(error, NotAuthenticated):
            headers["WWW-Authenticate"] = "Bearer"
        return JSONResponse(
            {"detail": error.detail, **error.data}, status_code=error.status_code, headers=headers
        )
    if isinstance(error, NotAuthenticated):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)
    page = render_error(
        request, error.status_code, error.detail, error.data, actor=_signed_in(request)
    )
    page.headers.update(error.headers)
    return page


async def _invalid_request(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    errors = _validation_errors(error)
    if _wants_json(request):
        return JSONResponse({"detail": errors}, status_code=422)
    summary = "; ".join(f"{'.'.join(map(str, e['loc'][1:]))}: {e['msg']}" for e in errors)
    return render_error(
        request, 422, f"The form is not valid: {summary}", {}, actor=_signed_in(request)
    )


def _allowed_methods(request: Request) -> str:
    """Every method some route takes at this path: Starlette's 405 names only the first
    route's, though GET and POST of one path are usually two routes."""
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.routes):
        pattern = getattr(route, "path_regex", None)
        if pattern is not None and pattern.match(request.url.path):
            methods |= set(getattr(route, "methods", None) or ())
    return ", ".join(sorted(methods))


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, StarletteHTTPException)
    if error.status_code == 405:
        error.headers = {**(error.headers or {}), "Allow": _allowed_methods(request)}
    if _wants_json(request):
        return JSONResponse(
            {"detail": error.detail}, status_code=error.status_code, headers=error.headers
        )
    return render_error(
        request, error.status_code, str(error.detail), {}, actor=_signed_in(request)
    )


async def _upgrade() -> None:
    await to_thread.run_sync(upgrade, get_settings().database_url)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    # A database that is down at start is retried in the background while routes answer 503.
    gate: DatabaseGate = app.state.database_gate
    async with gate.opening(_upgrade):
        yield
    await database.dispose()


def create_app(*, migrate_on_start: bool = True) -> FastAPI:
    app = FastAPI(
        title="bridgedesk",
        version="0.1.0",
        description="Video-conference bridge and reservation service.",
        lifespan=_lifespan if migrate_on_start else None,
        # Every form field of every page is checked for control characters (bridgedesk.forms).
        dependencies=[Depends(refuse_control_characters)],
        # Swagger UI and ReDoc load from a CDN; app/docs.py draws the same pages locally.
        docs_url=None,
        redoc_url=None,
    )
    install_redaction()
    figures.install()
    # Without the start-up upgrade (tests migrate themselves) the database is taken as ready.
    gate = DatabaseGate(get_settings().database_retry_seconds, open_=not migrate_on_start)
    app.state.database_gate = gate
    app.add_middleware(DatabaseGateMiddleware, gate=gate, wants_json=_wants_json)
    for error in UNAVAILABLE:
        app.add_exception_handler(error, lost_connection_handler(gate, _wants_json))
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.include_router(shell_api.router)
    for api in (
        reservations_api,
        certification_api,
        bridge_api,
        uptime_api,
        monitoring_reports_api,
        tickets_api,
        desk_api,
        billing_api,
    ):
        app.include_router(api.router)
    app.include_router(shell_pages.router)
    app.include_router(docs.router)
    for pages in (
        booking_pages,
        live_pages,
        view_pages,
        operator_pages,
        calendar_pages,
        site_pages,
        certification_pages,
        bridge_pages,
        monitoring_pages,
        maintenance_pages,
        billing_pages,
        user_pages,
    ):
        app.include_router(pages.router)
    shell_pages.mount_static(app)
    openapi.install(app)
    # Outermost last: the body limit runs first of all, before anything reads the body.
    docs_paths = frozenset(
        p for p in (app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url) if p
    )
    app.add_middleware(SecurityHeaders, exempt_paths=docs_paths)
    app.add_middleware(BodyLimit, bulk_routes=BULK_ROUTES)
    return app
