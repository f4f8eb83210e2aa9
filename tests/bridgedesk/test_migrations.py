"""The migrations build exactly the schema the models describe, on both databases, in one line
of history (a second head would make `bridgedesk migrate` refuse to choose)."""

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from bridgedesk.db import Base
from bridgedesk.migrate import alembic_config
from bridgedesk.model_registry import import_all_models


def _differences(connection: Connection) -> list[Any]:
    import_all_models()
    context = MigrationContext.configure(connection, opts={"compare_type": False})
    return list(compare_metadata(context, Base.metadata))


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_the_migrated_schema_matches_the_models(engines, backend):
    async with engines(backend).connect() as connection:
        assert await connection.run_sync(_differences) == []


def test_the_migrations_form_one_line_of_history():
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1
    revisions = list(script.walk_revisions())
    names = [r.revision for r in reversed(revisions)]
    # 0001-0008, then the branches' own (named 0009_<branch> until they are rechained).
    assert names[:8] == [f"{n:04d}" for n in range(1, 9)]
    assert all(name.startswith(f"{n:04d}") for n, name in enumerate(names, start=1))
