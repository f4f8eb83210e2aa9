"""Shared fixtures: one migrated database per backend per run, a rolled-back transaction per
test, factories that return callables, and API clients signed in as each role."""

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, pool
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bridgedesk.app.asgi import create_app
from bridgedesk.auth import CSRF_FIELD, actor_of, hash_password, issue_token
from bridgedesk.clock import utcnow
from bridgedesk.db import create_engine_for, database, sync_url
from bridgedesk.identity import Actor, Role
from bridgedesk.migrate import upgrade
from bridgedesk.models import User
from bridgedesk.pages import LOGIN_CSRF_COOKIE
from bridgedesk.settings import get_settings
from bridgedesk.throttle import sign_in_throttle
from reservations.models import Bridge, Customer, Site
from reservations.service import booking
from tests.mail import SmtpServer, smtp_settings

PG_ADMIN_URL = os.environ.get("BRIDGEDESK_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
PASSWORD = "correct-horse-battery"


def pg_url(database_name: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + database_name


def create_pg_database(prefix: str = "bridgedesk_test", *, migrate: bool = True) -> str:
    """A fresh PostgreSQL database, migrated unless told not to; returns its URL."""
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(
        sync_url(PG_ADMIN_URL), poolclass=pool.NullPool, isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    url = pg_url(name)
    if migrate:
        upgrade(url)
    return url


def drop_pg_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = create_engine(
        sync_url(PG_ADMIN_URL), poolclass=pool.NullPool, isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@contextmanager
def own_database(prefix: str) -> Iterator[str]:
    """A fresh migrated PostgreSQL database for one test or module, dropped afterwards (its own,
    so no other engine or server of the run competes for its work)."""
    url = create_pg_database(prefix)
    try:
        yield url
    finally:
        drop_pg_database(url)


@pytest.fixture(scope="session")
def database_urls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Migrated lazily: a run that never touches PostgreSQL never creates a database there."""
    urls: dict[str, str] = {}
    yield urls
    if "postgresql" in urls:
        drop_pg_database(urls["postgresql"])


@pytest.fixture(scope="session")
async def engines(
    database_urls: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Callable[[str], AsyncEngine]]:
    made: dict[str, AsyncEngine] = {}

    def engine_for(backend: str) -> AsyncEngine:
        if backend not in made:
            if backend == "sqlite":
                path: Path = tmp_path_factory.mktemp("db") / "bridgedesk.db"
                url = f"sqlite:///{path}"
                upgrade(url)
            else:
                url = create_pg_database()
            database_urls[backend] = url
            made[backend] = create_engine_for(url)
        return made[backend]

    yield engine_for
    for engine in made.values():
        await engine.dispose()


@pytest.fixture
def backend() -> str:
    """Most tests run on SQLite; packages whose rules must hold on both override this."""
    return "sqlite"


@pytest.fixture
async def db(engines: Callable[[str], AsyncEngine], backend: str) -> AsyncIterator[AsyncSession]:
    """The test's session; everything it and the app write is rolled back afterwards."""
    engine = engines(backend)
    async with engine.connect() as connection:
        transaction = await connection.begin()
        database.use_connection(engine, connection)
        session = database.sessions()
        try:
            yield session
        finally:
            await session.close()
            await transaction.rollback()
            database._engine = None
            database._sessions = None


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpServer]:
    """A real SMTP server the app is pointed at; the test starts it (and may leave it down)."""
    with smtp_settings(monkeypatch) as server:
        yield server


@pytest.fixture
def smtp_server(smtp: SmtpServer) -> SmtpServer:
    """A real SMTP server the app is pointed at, already accepting mail."""
    smtp.start()
    return smtp


@pytest.fixture(scope="session")
def password_hash() -> str:
    return hash_password(PASSWORD)


Factory = Callable[..., Awaitable[Any]]


@pytest.fixture
def make_customer(db: AsyncSession) -> Factory:
    async def make(**overrides: Any) -> Customer:
        customer = Customer(
            **{
                "name": f"Customer {uuid.uuid4().hex[:6]}",
                "timezone": "UTC",
                "billing_emails": ["billing@customer.example"],
                "primary_contact": {"name": "Pat Primary", "email": "pat@customer.example"},
                "created_at": utcnow(),
                **overrides,
            }
        )
        db.add(customer)
        await db.flush()
        return customer

    return make


@pytest.fixture
def make_site(db: AsyncSession, make_customer: Factory) -> Factory:
    async def make(**overrides: Any) -> Site:
        customer = overrides.pop("customer", None) or await make_customer()
        site = Site(
            **{
                "customer_id": customer.id,
                "name": f"Room {uuid.uuid4().hex[:6]}",
                "kind": "room",
                "timezone": "UTC",
                "sip_uri": "sip:room@127.0.0.1",
                "max_speed_kbps": 1536,
                "billing_zone": "US",
                "contacts": [{"name": "Tech", "email": "tech@customer.example"}],
                "certification_state": "registered",
                "created_at": utcnow(),
                **overrides,
            }
        )
        db.add(site)
        await db.flush()
        return site

    return make


@pytest.fixture
def make_bridge(db: AsyncSession) -> Factory:
    async def make(**overrides: Any) -> Bridge:
        bridge = Bridge(
            **{
                "name": f"Bridge {uuid.uuid4().hex[:6]}",
                "sip_uri": "sip:bridge@127.0.0.1:5080",  # sites here use 5060; never a bridge
                "ports": 24,
                "adhoc_reserve": 4,
                **overrides,
            }
        )
        db.add(bridge)
        await db.flush()
        return bridge

    return make


@pytest.fixture
def make_user(db: AsyncSession, make_customer: Factory, password_hash: str) -> Factory:
    async def make(role: Role = Role.SCHEDULER, **overrides: Any) -> User:
        customer_id = overrides.pop("customer_id", None)
        if role in (Role.SCHEDULER, Role.BILLING) and customer_id is None:
            customer_id = (await make_customer()).id
        user = User(
            **{
                "email": f"{role.value}-{uuid.uuid4().hex[:8]}@example.com",
                "name": f"{role.value.title()} Person",
                "password_hash": password_hash,
                "role": role,
                "customer_id": customer_id,
                "active": True,
                "created_at": utcnow(),
                **overrides,
            }
        )
        db.add(user)
        await db.flush()
        return user

    return make


@pytest.fixture
def make_actor(make_user: Factory) -> Factory:
    async def make(role: Role = Role.SCHEDULER, **overrides: Any) -> Actor:
        return actor_of(await make_user(role, **overrides))

    return make


@pytest.fixture
def make_conference(db: AsyncSession, make_site: Factory, make_actor: Factory) -> Factory:
    """Books through the service, as a scheduler of the sites' customer."""

    async def make(**overrides: Any) -> Any:
        sites = overrides.pop("sites", None) or [await make_site()]
        by = overrides.pop("by", None) or await make_actor(
            Role.SCHEDULER, customer_id=sites[0].customer_id
        )
        start = overrides.pop("start", None) or utcnow() + timedelta(days=3)
        end = overrides.pop("end", None) or start + timedelta(hours=1)
        request = booking.BookingRequest(
            **{
                "customer_id": sites[0].customer_id,
                "title": "Planning",
                "leader_name": "Lee Leader",
                "start": start,
                "end": end,
                "sites": [booking.SiteRequest(site.id) for site in sites],
                **overrides,
            }
        )
        return await booking.book(db, request, by=by)

    return make


@pytest.fixture(scope="session")
def app() -> Any:
    return create_app(migrate_on_start=False)


SignIn = Callable[[User], Awaitable[httpx.AsyncClient]]


async def page_login(client: httpx.AsyncClient, data: dict[str, str]) -> httpx.Response:
    """Sign in through the login form as a browser does: fetch the form (its CSRF cookie and
    field), then post it with the given fields."""
    form = await client.get("/login")
    assert form.status_code == 200, form.text
    token = client.cookies.get(LOGIN_CSRF_COOKIE, path="/login")
    assert token
    return await client.post("/login", data={CSRF_FIELD: token, **data})


@pytest.fixture(autouse=True)
def _fresh_sign_in_throttle() -> Iterator[None]:
    """Each test starts with no failed sign-ins counted (the throttle is per process)."""
    sign_in_throttle.clear()
    yield
    sign_in_throttle.clear()


@pytest.fixture
async def sign_in(app: Any, db: AsyncSession) -> AsyncIterator[SignIn]:
    """`await sign_in(user)`: a client that signed in through the login form, cookie kept."""
    clients: list[httpx.AsyncClient] = []

    async def sign(user: User) -> httpx.AsyncClient:
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        )
        clients.append(client)
        response = await page_login(client, {"email": user.email, "password": PASSWORD})
        assert response.status_code == 303, response.text
        return client

    yield sign
    for client in clients:
        await client.aclose()


@pytest.fixture
async def anonymous(db: AsyncSession, app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An API client on the app in process; its requests run inside the test's transaction."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        yield client


@pytest.fixture
async def client_as(
    db: AsyncSession, app: Any, make_user: Factory
) -> AsyncIterator[Callable[..., Awaitable[httpx.AsyncClient]]]:
    """`await client_as(user_or_role, **user_overrides)`: a client holding that user's token."""
    clients: list[httpx.AsyncClient] = []

    async def make(who: User | Role, **overrides: Any) -> httpx.AsyncClient:
        user = who if isinstance(who, User) else await make_user(who, **overrides)
        secret, _ = await issue_token(db, user, kind="api")
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://testserver",
            headers={"Authorization": f"Bearer {secret}"},
        )
        client.user = user  # type: ignore[attr-defined]
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
def set_settings() -> Iterator[Callable[..., None]]:
    """Change BRIDGEDESK_* settings for one test: `set_settings(pstn_gateway="sip:{number}@gw")`
    (None unsets one). Everything is restored, and the settings re-read, when the test ends."""
    saved: dict[str, str | None] = {}

    def apply(**values: str | None) -> None:
        for name, value in values.items():
            env = f"BRIDGEDESK_{name.upper()}"
            saved.setdefault(env, os.environ.get(env))
            if value is None:
                os.environ.pop(env, None)
            else:
                os.environ[env] = value
        get_settings.cache_clear()

    yield apply
    for env, value in saved.items():
        if value is None:
            os.environ.pop(env, None)
        else:
            os.environ[env] = value
    get_settings.cache_clear()
