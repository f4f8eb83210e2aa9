"""The database gate: while closed every route answers 503 with Retry-After (JSON for the API
and /healthz, a page for pages); only a lost connection counts as "unavailable", a wrong
statement stays a 500. The real server and a real outage are in tests/server."""

import sqlite3
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from bridgedesk.app.asgi import create_app
from bridgedesk.availability import DatabaseGate, is_unavailable


@pytest.fixture
async def closed() -> AsyncIterator[httpx.AsyncClient]:
    """An app whose database has not answered yet (its lifespan is not run)."""
    app = create_app(migrate_on_start=False)
    app.state.database_gate.is_open = False
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        yield client


@pytest.mark.parametrize(
    "method, path",
    [("GET", "/healthz"), ("GET", "/api/v1/users/me"), ("POST", "/api/v1/auth/token")],
)
async def test_api_answers_503_json_with_retry_after_while_closed(closed, method, path):
    response = await closed.request(method, path, json={"email": "a@b.c", "password": "x"})
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["detail"]
    assert int(response.headers["Retry-After"]) >= 1


async def test_pages_answer_a_503_page_with_retry_after_while_closed(closed):
    response = await closed.get("/login")
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("text/html")
    assert int(response.headers["Retry-After"]) >= 1


async def test_the_document_and_static_files_need_no_database(closed):
    assert (await closed.get("/openapi.json")).status_code == 200
    assert (await closed.get("/static/bridgedesk.css")).status_code == 200


def test_retry_after_is_a_whole_number_of_seconds():
    assert DatabaseGate(0.2).retry_after == 1
    assert DatabaseGate(2.5).retry_after == 3


def _sqlite_error(message: str) -> OperationalError:
    return OperationalError("SELECT 1", {}, sqlite3.OperationalError(message))


def test_only_an_unreachable_database_is_unavailable():
    assert is_unavailable(_sqlite_error("database is locked"))
    assert is_unavailable(_sqlite_error("unable to open database file"))
    assert is_unavailable(OperationalError("SELECT 1", {}, OSError("connection refused")))
    # SQLite names its SQL mistakes OperationalError too: those stay server errors.
    assert not is_unavailable(_sqlite_error("no such table: nope"))
    assert not is_unavailable(IntegrityError("INSERT", {}, Exception("unique")))
