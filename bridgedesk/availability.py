"""Whether the database can be used: the gate that answers 503 until the schema is upgraded,
the loop that keeps trying while the database is down, and the one rule that turns a lost
database connection into a 503 (never a 500)."""

import asyncio
import contextlib
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger(__name__)

# What a driver raises when the database cannot be reached or the connection broke (refused,
# reset, timed out, pool exhausted, SQLite's file cannot be opened or stays locked): the client
# may try again later. Errors about the statement itself are not in this list.
UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeout)
# SQLite reports its SQL mistakes as OperationalError too; only these mean "not now".
_SQLITE_UNAVAILABLE = ("database is locked", "unable to open database", "disk i/o error")

DETAIL = "The database is not reachable at the moment; try again shortly."

# Paths that never touch the database answer even while it is down.
_ALWAYS_OPEN = ("/static/", "/openapi.json", "/docs", "/redoc")

WantsJson = Callable[[Request], bool]


class DatabaseGate:
    """Closed until the schema upgrade has succeeded once; meanwhile every request is a 503."""

    def __init__(self, retry_seconds: float, *, open_: bool = False) -> None:
        self.retry_seconds = retry_seconds
        self.is_open = open_

    @property
    def retry_after(self) -> int:
        """Seconds a client should wait, as the whole number `Retry-After` carries."""
        return max(1, math.ceil(self.retry_seconds))

    @asynccontextmanager
    async def opening(self, upgrade: Callable[[], Awaitable[None]]) -> AsyncIterator[None]:
        """Upgrade now if the database answers; otherwise keep trying in the background
        while the service answers 503, and open the gate once an upgrade succeeds."""
        try:
            await upgrade()
        except UNAVAILABLE as error:
            if not is_unavailable(error):
                raise
            log.warning("database unreachable at start (%s); answering 503 until it is", error)
        else:
            self.is_open = True
        retrying = None if self.is_open else asyncio.create_task(self._keep_trying(upgrade))
        try:
            yield
        finally:
            if retrying is not None:
                retrying.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await retrying

    async def _keep_trying(self, upgrade: Callable[[], Awaitable[None]]) -> None:
        while not self.is_open:
            await asyncio.sleep(self.retry_seconds)
            try:
                await upgrade()
            except UNAVAILABLE as error:
                log.info("database still unreachable: %s", error)
            except Exception:
                # A schema upgrade that fails for another reason is an operator's problem;
                # the service stays at 503 (and says why in the log) rather than half-serving.
                log.exception("schema upgrade failed; retrying in %s s", self.retry_seconds)
            else:
                log.warning("database reachable again: schema upgraded, serving")
                self.is_open = True


def is_unavailable(error: BaseException) -> bool:
    """True when `error` says the database cannot serve now, not that the statement is wrong."""
    if not isinstance(error, UNAVAILABLE):
        return False
    original = getattr(error, "orig", None)
    if type(original).__module__ == "sqlite3":
        return str(original).lower().startswith(_SQLITE_UNAVAILABLE)
    return True


def unavailable(retry_after: int, *, json: bool) -> Response:
    """The 503 answer: JSON `{"detail": ...}` for the API and /healthz, a plain page otherwise."""
    headers = {"Retry-After": str(retry_after)}
    if json:
        return JSONResponse(
            {"detail": DETAIL, "status": "unavailable", "database": "unreachable"},
            status_code=503,
            headers=headers,
        )
    page = f"<!doctype html><title>Unavailable</title><h1>Service unavailable</h1><p>{DETAIL}</p>"
    return HTMLResponse(page, status_code=503, headers=headers)


class DatabaseGateMiddleware:
    """Answers 503 before any route runs while the gate is closed."""

    def __init__(self, app: ASGIApp, gate: DatabaseGate, wants_json: WantsJson) -> None:
        self.app = app
        self.gate = gate
        self.wants_json = wants_json

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or self.gate.is_open
            or str(scope["path"]).startswith(_ALWAYS_OPEN)
        ):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        await unavailable(self.gate.retry_after, json=self.wants_json(request))(
            scope, receive, send
        )


def lost_connection_handler(
    gate: DatabaseGate, wants_json: WantsJson
) -> Callable[[Request, Exception], Awaitable[Response]]:
    """The exception handler for `UNAVAILABLE`: a database lost after start is a 503 too."""

    async def handle(request: Request, error: Exception) -> Response:
        if not is_unavailable(error):
            raise error  # a wrong statement stays a 500 with its traceback in the log
        log.warning("database error answered as 503 on %s: %s", request.url.path, error)
        return unavailable(gate.retry_after, json=wants_json(request))

    return handle
