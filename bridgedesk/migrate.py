"""Upgrading the database to the latest schema, on start and by `bridgedesk migrate`."""

from pathlib import Path

from alembic import command
from alembic.config import Config

from bridgedesk.db import sync_engine_for

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(slug)s")
    return config


def upgrade(url: str) -> None:
    """Bring the database at `url` to head; a no-op when it is already there.

    On PostgreSQL an advisory lock keeps several starting workers from migrating at once.
    """
    engine = sync_engine_for(url)
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.exec_driver_sql("SELECT pg_advisory_xact_lock(727001)")
            config = alembic_config(url)
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    finally:
        engine.dispose()
