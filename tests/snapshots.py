"""The state a refused request must leave as it was, read from the database for comparison."""

from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from bridgedesk.app.model_registry import import_all_models
from bridgedesk.db import Base
from bridgedesk.models import OutboxMessage, User
from reservations.models import Bridge, Conference, Customer, Series, Site, SiteHold

Snapshot = dict[str, list[tuple[Any, ...]]]

# Per table, the columns a refused move, cancel, confirm, extend or add-site (or a refused
# create) could touch. Named through the models, so a renamed column fails here at import
# rather than silently dropping out of the comparison. The id comes first: rows are read in
# id order, so a row changed, replaced or added shows even when the count stays the same.
WATCHED: tuple[tuple[InstrumentedAttribute[Any], ...], ...] = (
    (
        Conference.id,
        Conference.status,
        Conference.starts_at,
        Conference.ends_at,
        Conference.confirmed_at,
        Conference.confirmed_by,
        Conference.cancelled_at,
        Conference.confirmation_due,
        Conference.bridge_id,
        Conference.series_id,
    ),
    (
        SiteHold.id,
        SiteHold.conference_id,
        SiteHold.site_id,
        SiteHold.starts_at,
        SiteHold.ends_at,
        SiteHold.held,
        SiteHold.speed_kbps,
    ),
    (Site.id, Site.name, Site.certification_state),
    (Customer.id, Customer.name),
    (Bridge.id, Bridge.ports, Bridge.adhoc_reserve),
    (Series.id,),
    (User.id, User.email, User.role, User.active),
    (OutboxMessage.id, OutboxMessage.topic),
)


# The other packages' tables are watched whole: every row, every column.
WHOLE_PREFIXES = ("bridge_", "certification_", "monitoring_", "billing_")


def _whole_tables() -> list[Table]:
    import_all_models()
    return [t for t in Base.metadata.sorted_tables if t.name.startswith(WHOLE_PREFIXES)]


async def snapshot(db: AsyncSession) -> Snapshot:
    """Every watched row, by table name; compare one taken before a request with one after.

    Columns are selected directly, so the rows come from the database and not from objects
    the session already holds. The session's objects are expired too, so that the test reads
    fresh values afterwards; in an async session that means reading an attribute of one of
    them raises, so build request bodies from factory objects before the first snapshot (or
    `await db.refresh(obj)` after).
    """
    await db.flush()  # expiring would otherwise drop the test's own unflushed changes
    db.expire_all()
    state: Snapshot = {}
    for columns in WATCHED:
        key = columns[0]
        table = key.class_.__tablename__
        rows = await db.execute(select(*columns).order_by(key))
        state[table] = [tuple(row) for row in rows]
    for whole in _whole_tables():
        rows = await db.execute(select(whole).order_by(*whole.primary_key.columns))
        state[whole.name] = [tuple(row) for row in rows]
    return state
