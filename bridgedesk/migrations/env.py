"""Alembic environment: one metadata for every package, batch mode on SQLite."""

from alembic import context
from sqlalchemy import Connection

from bridgedesk.app.model_registry import import_all_models
from bridgedesk.db import Base, sync_engine_for

import_all_models()
config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    # Set up like every other engine (on SQLite: WAL, busy timeout, BEGIN IMMEDIATE).
    engine = sync_engine_for(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as connection:
        _run(connection)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
