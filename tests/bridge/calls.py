"""Playing the SIP engine's part in call-handling tests: dial rows moved by hand, jobs run
at chosen instants."""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bridge.models import Dial, Leg


async def dial_of(db: AsyncSession, leg: Leg) -> Dial:
    await db.refresh(leg)
    assert leg.dial_id is not None, f"leg {leg.id} ({leg.state}) has no dial in flight"
    dial = await db.get(Dial, leg.dial_id)
    assert dial is not None
    await db.refresh(dial)
    return dial


async def connect(db: AsyncSession, leg: Leg, at: datetime) -> Dial:
    dial = await dial_of(db, leg)
    dial.status, dial.dialed_at, dial.connected_at = "connected", at, at
    dial.final_status, dial.cause, dial.updated_at = 200, "ok", at
    await db.flush()
    return dial


async def end(
    db: AsyncSession,
    leg: Leg,
    at: datetime,
    reason: str,
    *,
    final_status: int | None = None,
    cause: str | None = None,
) -> Dial:
    dial = await dial_of(db, leg)
    dial.status, dial.ended_at, dial.end_reason, dial.updated_at = "ended", at, reason, at
    if final_status is not None:
        dial.final_status = final_status
    if cause is not None:
        dial.cause = cause
    await db.flush()
    return dial


async def legs_of(db: AsyncSession, conference_id: int) -> list[Leg]:
    rows = (
        await db.scalars(select(Leg).where(Leg.conference_id == conference_id).order_by(Leg.id))
    ).all()
    for leg in rows:
        await db.refresh(leg)
    return list(rows)
