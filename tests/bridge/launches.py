"""The clock and helpers of the launch and recovery tests: a conference booked for T0, the
bridge's jobs run at chosen instants, its legs connected by hand (the engine's part)."""

from datetime import UTC, datetime, timedelta

import time_machine
from sqlalchemy import select

from bridge.jobs import launch_due_conferences_job, supervise_legs_job
from bridge.models import Leg
from bridgedesk.auth import actor_of
from bridgedesk.identity import Role
from bridgedesk.models import OutboxMessage, User
from tests.bridge.calls import connect, legs_of

T0 = datetime(2031, 3, 4, 15, 0, tzinfo=UTC)


HOUR = timedelta(hours=1)


SITE_DOWN = select(OutboxMessage).where(OutboxMessage.topic == "site_down")


async def run(at: datetime, job=supervise_legs_job) -> int:
    with time_machine.travel(at, tick=False):
        return await job()


async def launched_and_connected(db, conference) -> list[Leg]:
    """Launched at T0, every site connected 3 s later and the supervisor run once: its legs."""
    await run(T0, launch_due_conferences_job)
    legs = await legs_of(db, conference.id)
    for leg in legs:
        await connect(db, leg, T0 + timedelta(seconds=3))
    await run(T0 + timedelta(seconds=4))
    return legs


async def make_actor_at(db, moment):
    user = User(
        email=f"op-{moment.timestamp()}@example.com",
        name="Op",
        password_hash="-",
        role=Role.OPERATOR,
        active=True,
        created_at=moment,
    )
    db.add(user)
    await db.flush()
    return actor_of(user)
