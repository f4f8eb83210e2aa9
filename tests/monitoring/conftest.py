"""Fixtures for the monitoring tests: a browser-like client signed in through the login form."""

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from bridgedesk.models import User
from tests.conftest import PASSWORD

SignIn = Callable[[User], Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def sign_in(app: Any, db: Any) -> AsyncIterator[SignIn]:
    """`await sign_in(user)`: a client that signed in through the login form, cookie kept."""
    clients: list[httpx.AsyncClient] = []

    async def sign(user: User) -> httpx.AsyncClient:
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        )
        clients.append(client)
        response = await client.post("/login", data={"email": user.email, "password": PASSWORD})
        assert response.status_code == 303, response.text
        return client

    yield sign
    for client in clients:
        await client.aclose()
