"""`/healthz` tells whether the database answers; the `bridgedesk` command migrates, adds users
and loads the demo once, on SQLite and on a plain `postgresql://` URL."""

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import create_engine, func, inspect, pool, select, text

from bridgedesk.db import Base, create_engine_for, database, sync_url
from bridgedesk.models import User
from reservations.models import Conference, Customer
from tests.conftest import create_pg_database, drop_pg_database
from tests.server_process import BIN, free_port, run_cli


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_healthz_is_200_when_the_database_answers(anonymous):
    response = await anonymous.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_healthz_answers_at_once_while_another_transaction_writes(
    db, anonymous, make_customer
):
    # The test's own transaction has written and holds SQLite's write lock; a health check
    # must not wait for it (nor call the database down because of it).
    await make_customer()
    response = await anonymous.get("/healthz", timeout=5)
    assert response.status_code == 200


async def test_healthz_is_503_when_the_database_is_unreachable(db, anonymous):
    engine, sessions = database._engine, database._sessions
    unreachable = create_engine_for(f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere")
    database.use(unreachable)
    try:
        response = await anonymous.get("/healthz")
    finally:
        await unreachable.dispose()
        database._engine, database._sessions = engine, sessions
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    # Restored: the same app answers 200 again.
    assert (await anonymous.get("/healthz")).status_code == 200


def _cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`bridgedesk ARGS...` whatever its exit status."""
    return subprocess.run(
        [str(BIN / "bridgedesk"), *args],
        env={**os.environ, "BRIDGEDESK_DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _row_counts(url: str) -> dict[str, int]:
    engine = create_engine(sync_url(url), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            return {
                table.name: connection.scalar(select(func.count()).select_from(table)) or 0
                for table in Base.metadata.sorted_tables
            }
    finally:
        engine.dispose()


@pytest.fixture
def sqlite_file(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


def test_migrate_creates_the_schema_and_is_repeatable(sqlite_file):
    out = run_cli(sqlite_file, "migrate")
    assert "head" in out
    engine = create_engine(sync_url(sqlite_file), poolclass=pool.NullPool)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {t.name for t in Base.metadata.sorted_tables} <= tables
    assert "alembic_version" in tables
    run_cli(sqlite_file, "migrate")  # already at head: a no-op, not an error


def test_demo_loads_once_and_user_add_follows_the_spec_syntax(sqlite_file):
    first = run_cli(sqlite_file, "demo")  # on a database that does not exist yet
    assert "loaded" in first
    loaded = _row_counts(sqlite_file)
    assert loaded["reservations_customers"] >= 2
    assert loaded["reservations_sites"] >= 4
    assert loaded["reservations_conferences"] >= 4
    assert loaded["bridgedesk_users"] >= 6
    second = run_cli(sqlite_file, "demo")
    assert "nothing changed" in second
    assert _row_counts(sqlite_file) == loaded

    engine = create_engine(sync_url(sqlite_file), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            customer_id = connection.scalar(select(Customer.id).order_by(Customer.id))
        # SPEC §8: user add EMAIL --role ROLE --password PASSWORD [--customer ID] [--name NAME]
        out = run_cli(
            sqlite_file,
            "user",
            "add",
            "Sam@Customer.example",
            "--role",
            "scheduler",
            "--password",
            "sam-password-1",
            "--customer",
            str(customer_id),
            "--name",
            "Sam Scheduler",
        )
        assert "sam@customer.example" in out
        run_cli(sqlite_file, "user", "add", "ops@provider.example", "--role", "operator",
                "--password", "ops-password-1")  # fmt: skip
        with engine.connect() as connection:
            sam = connection.execute(select(User).where(User.email == "sam@customer.example")).one()
            ops = connection.execute(select(User).where(User.email == "ops@provider.example")).one()
            demo_conferences = connection.scalar(select(func.count(Conference.id)))
    finally:
        engine.dispose()
    assert (sam.role, sam.customer_id, sam.name, sam.active) == (
        "scheduler",
        customer_id,
        "Sam Scheduler",
        True,
    )
    assert PasswordHasher().verify(sam.password_hash, "sam-password-1")
    assert (ops.role, ops.customer_id, ops.name) == ("operator", None, "ops")
    assert demo_conferences == loaded["reservations_conferences"]

    # Refusals are one clean line on stderr and exit 1, and add nobody.
    before = _row_counts(sqlite_file)
    for args, message in [
        (["SAM@customer.example", "--role", "admin", "--password", "pw-123456"], "already exists"),
        (["nocust@example.com", "--role", "scheduler", "--password", "pw-123456"], "customer"),
        (["who@example.com", "--role", "billing", "--password", "pw-123456", "--customer", "999"],
         "No such customer"),
    ]:  # fmt: skip
        done = _cli(sqlite_file, "user", "add", *args)
        assert done.returncode == 1, (args, done.stdout)
        assert message in done.stderr
        assert "Traceback" not in done.stderr
    done = _cli(sqlite_file, "user", "add", "x@example.com", "--role", "root", "--password", "p")
    assert done.returncode == 2
    assert "invalid choice" in done.stderr
    assert _row_counts(sqlite_file) == before


@pytest.fixture
def empty_pg_database() -> Iterator[str]:
    url = create_pg_database("bridgedesk_cli", migrate=False)
    try:
        yield url
    finally:
        drop_pg_database(url)


def test_migrate_works_on_a_plain_postgresql_url(empty_pg_database):
    name = empty_pg_database.rsplit("/", 1)[1]
    # A plain URL with a password: the application picks its driver, and keeps the
    # password out of what it prints.
    url = f"postgresql://postgres:not-printed@127.0.0.1:5432/{name}"
    assert url.startswith("postgresql://")
    out = run_cli(url, "migrate")
    assert name in out
    assert "not-printed" not in out
    engine = create_engine(sync_url(url), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            tables = set(inspect(connection).get_table_names())
            # The double-booking rule is the database's own (SPEC §2).
            exclusion = connection.scalar(
                text(
                    "SELECT count(*) FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid "
                    "WHERE c.contype = 'x' AND t.relname = 'reservations_site_holds'"
                )
            )
    finally:
        engine.dispose()
    assert {t.name for t in Base.metadata.sorted_tables} <= tables
    assert exclusion == 1
    run_cli(url, "migrate")  # repeatable
