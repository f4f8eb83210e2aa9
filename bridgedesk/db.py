"""Database engine, declarative base and the unit of work that owns each transaction."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends
from sqlalchemy import DateTime, MetaData, event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from bridgedesk.settings import get_settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# The largest id an INTEGER key holds: larger ones are refused at the edges, not sent to a driver.
MAX_KEY = 2**31 - 1


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """An instant stored in UTC; naive values are refused, results always come back aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an aware instant is required")
        value = value.astimezone(UTC)
        # SQLite keeps text; a fixed naive-UTC form keeps its comparisons chronological.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def async_url(url: str) -> str:
    """The async driver URL for a plain `sqlite:///` or `postgresql://` URL."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return str(parsed.set(drivername="sqlite+aiosqlite"))
    if parsed.get_backend_name() == "postgresql":
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    raise ValueError(f"unsupported database URL {url!r}: use sqlite:/// or postgresql://")


def sync_url(url: str) -> str:
    """The blocking driver URL for the same database (Alembic and the job store use it)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return str(parsed.set(drivername="sqlite"))
    if parsed.get_backend_name() == "postgresql":
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    raise ValueError(f"unsupported database URL {url!r}: use sqlite:/// or postgresql://")


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


# Execution option marking a connection that never writes: on SQLite it skips the write lock.
READ_ONLY = "bridgedesk_read_only"


def install_sqlite_write_lock(sync_engine: Any) -> None:
    """Every SQLite transaction begins IMMEDIATE, taking the write lock before any check.

    That is SQLite's half of the no-double-booking rule: two bookings cannot both read "free"
    and then both write, because the second cannot begin until the first has committed.
    """

    @event.listens_for(sync_engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let us issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _begin(connection: Any) -> None:
        # A connection that only reads (the health check) must not queue behind writers.
        if connection.get_execution_options().get(READ_ONLY):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_engine_for(url: str) -> AsyncEngine:
    settings = get_settings()
    if is_sqlite(url):
        engine = create_async_engine(async_url(url))
        install_sqlite_write_lock(engine.sync_engine)
        return engine
    return create_async_engine(
        async_url(url),
        pool_size=settings.database_pool_size,
        pool_pre_ping=True,
        connect_args={"connect_timeout": 5},
    )


class _Database:
    """The process's engine and session factory, made on first use from the settings."""

    def __init__(self) -> None:
        self._engine: AsyncEngine | None = None
        self._sessions: async_sessionmaker[AsyncSession] | None = None

    def use(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    def use_connection(self, engine: AsyncEngine, connection: AsyncConnection) -> None:
        """Tests: every unit of work becomes a savepoint inside the test's own transaction,
        which is rolled back at the end, so nothing one test writes is seen by the next."""
        self._engine = engine
        self._sessions = async_sessionmaker(
            bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
        )

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            self.use(create_engine_for(get_settings().database_url))
        assert self._engine is not None
        return self._engine

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        self.engine  # noqa: B018 - creates the factory on first use
        assert self._sessions is not None
        return self._sessions

    async def dispose(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
        self._engine = None
        self._sessions = None


database = _Database()


@asynccontextmanager
async def unit_of_work() -> AsyncIterator[AsyncSession]:
    """Commit if the block finishes, roll back if it raises; jobs and requests both use it."""
    async with database.sessions() as session, session.begin():
        yield session


async def add_unique(session: AsyncSession, row: object, refusal: Exception) -> None:
    """Insert `row`; if a unique constraint refuses it, raise `refusal` (a clean 409) and
    leave the transaction usable. The row is added inside the savepoint, because beginning
    one flushes whatever is pending."""
    try:
        async with session.begin_nested():
            session.add(row)
            await session.flush()
    except IntegrityError:
        raise refusal from None


async def request_session() -> AsyncIterator[AsyncSession]:
    async with unit_of_work() as session:
        yield session


# "function" scope: the transaction commits before the response leaves, so a client never
# sees 201 for a booking whose commit then failed.
Db = Annotated[AsyncSession, Depends(request_session, scope="function")]
