"""Database engine, declarative base and the unit of work that owns each transaction."""

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends
from sqlalchemy import DateTime, Engine, MetaData, create_engine, event, pool
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError
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

log = logging.getLogger(__name__)
T = TypeVar("T")

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


# SQLite waits this long for another process's write lock before answering "database is
# locked"; the web process, the worker and the CLI share one file, so waiting is normal.
SQLITE_BUSY_TIMEOUT_MS = 30_000


def sqlite_pragmas(dbapi_connection: Any) -> None:
    """Set up one SQLite connection for a file shared by several processes: WAL (readers never
    block the writer), a busy timeout (a writer waits for the lock instead of failing), and
    foreign keys. Every engine of every process goes through `install_sqlite_write_lock`."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def install_sqlite_write_lock(sync_engine: Any) -> None:
    """Every SQLite connection gets `sqlite_pragmas`, and every transaction begins IMMEDIATE,
    taking the write lock before any check.

    That is SQLite's half of the no-double-booking rule: two bookings cannot both read "free"
    and then both write, because the second cannot begin until the first has committed. It
    also means a transaction never has to upgrade a read lock (which SQLite refuses at once,
    busy timeout or not, when another process wrote in between).
    """

    @event.listens_for(sync_engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let us issue BEGIN ourselves
        sqlite_pragmas(dbapi_connection)

    @event.listens_for(sync_engine, "begin")
    def _begin(connection: Any) -> None:
        # A connection that only reads (the health check) must not queue behind writers.
        if connection.get_execution_options().get(READ_ONLY):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def sync_engine_for(url: str, **options: Any) -> Engine:
    """A blocking engine without a pool (migrations, the job store, the leader lock) set up
    like the async one: on SQLite with `install_sqlite_write_lock`."""
    engine = create_engine(sync_url(url), poolclass=pool.NullPool, **options)
    if is_sqlite(url):
        install_sqlite_write_lock(engine)
    return engine


def is_lock_error(error: BaseException) -> bool:
    """A write refused only because another transaction holds the lock: worth retrying.

    SQLite says "database is locked" once its busy timeout ran out; PostgreSQL reports a
    deadlock or a lock it could not take (NOWAIT) by SQLSTATE.
    """
    if not isinstance(error, DBAPIError):
        return False
    if "database is locked" in str(error.orig) or "database table is locked" in str(error.orig):
        return True
    return getattr(error.orig, "sqlstate", None) in ("40P01", "55P03")


# Retries of a write that found the database locked: waits of 0.1, 0.2, 0.4, ... seconds.
LOCK_RETRIES = 6
LOCK_FIRST_WAIT = 0.1


def retry_on_lock(call: Callable[[], T], *, what: str) -> T:
    """`call()`, run again with backoff while it fails on a lock (blocking code)."""
    for attempt in range(LOCK_RETRIES):
        try:
            return call()
        except DBAPIError as error:
            if not is_lock_error(error) or attempt == LOCK_RETRIES - 1:
                raise
            log.warning("%s: database locked, retry %d", what, attempt + 1)
            time.sleep(LOCK_FIRST_WAIT * 2**attempt)
    raise AssertionError("unreachable")


async def retry_on_lock_async(call: Callable[[], Awaitable[T]], *, what: str) -> T:
    """`await call()`, run again with backoff while it fails on a lock. `call` must be a whole
    unit of work (it is started again from the beginning) and safe to repeat."""
    for attempt in range(LOCK_RETRIES):
        try:
            return await call()
        except DBAPIError as error:
            if not is_lock_error(error) or attempt == LOCK_RETRIES - 1:
                raise
            log.warning("%s: database locked, retry %d", what, attempt + 1)
            await asyncio.sleep(LOCK_FIRST_WAIT * 2**attempt)
    raise AssertionError("unreachable")


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
