"""Gapless document numbers per kind and year: INV-YYYY-NNNNNN and CM-YYYY-NNNNNN.

The counter row is locked `SELECT ... FOR UPDATE` and bumped in the caller's transaction,
so concurrent issues queue on the row and a rolled-back issue gives its number back. Never
`MAX()+1`: two transactions would read the same maximum. On SQLite every write transaction
takes the database's write lock at BEGIN (bridgedesk.db), which serializes them the same way.
"""

from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from billing.models import Counter

DocumentKind = Literal["INV", "CM"]


def format_number(kind: DocumentKind, year: int, value: int) -> str:
    return f"{kind}-{year:04d}-{value:06d}"


async def next_number(session: AsyncSession, kind: DocumentKind, year: int) -> str:
    """The next number of `kind` for `year`; the counter stays locked until the caller commits."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    # The year's first issue creates the row; a concurrent first issue finds it made.
    await session.execute(
        insert(Counter)
        .values(kind=kind, year=year, last_value=0)
        .on_conflict_do_nothing(index_elements=["kind", "year"])
    )
    last = await session.scalar(
        select(Counter.last_value)
        .where(Counter.kind == kind, Counter.year == year)
        .with_for_update()
    )
    assert last is not None
    value = last + 1
    await session.execute(
        update(Counter)
        .where(Counter.kind == kind, Counter.year == year)
        .values(last_value=value)
        .execution_options(synchronize_session=False)
    )
    return format_number(kind, year, value)
