"""The phone queue: waiting calls listed first come, first served, and the desk takes the
call that has waited longest; on PostgreSQL two desk members taking calls at once get two
different calls."""

import asyncio
from datetime import UTC, datetime, timedelta

import time_machine
from sqlalchemy.ext.asyncio import async_sessionmaker

from bridgedesk.auth import actor_of
from bridgedesk.db import create_engine_for
from bridgedesk.identity import Role
from monitoring.service import phone_queue, tickets
from tests.conftest import create_pg_database, drop_pg_database

T = datetime(2027, 1, 12, 9, 0, tzinfo=UTC)


def _call(customer_id: int, summary: str, offered: datetime) -> dict[str, object]:
    return {
        "customer_id": customer_id,
        "severity": "SL2",
        "summary": summary,
        "description": "Waiting on the line.",
        "channel": "phone",
        "offered_at": offered.isoformat(),
    }


async def test_calls_wait_first_come_first_served(db, make_customer, client_as):
    customer = await make_customer()
    with time_machine.travel(T, tick=False):
        desk = await client_as(Role.OPERATOR)
        # Entered out of order: the queue follows when each call was offered.
        for summary, ago in (("second", 90), ("third", 30), ("first", 120)):
            response = await desk.post(
                "/api/v1/tickets", json=_call(customer.id, summary, T - timedelta(seconds=ago))
            )
            assert response.status_code == 201, response.text
        taken_at_desk = await desk.post(
            "/api/v1/tickets",
            json={**_call(customer.id, "taken", T), "offered_at": None},
        )
        assert taken_at_desk.json()["answered_at"] is not None  # taken as it was opened
        queue = (await desk.get("/api/v1/desk/queue")).json()["items"]
        assert [c["summary"] for c in queue] == ["first", "second", "third"]
        taken = (await desk.post("/api/v1/desk/queue/next")).json()
        assert taken["summary"] == "first" and taken["answered_at"] == "2027-01-12T09:00:00Z"
        assert [c["summary"] for c in (await desk.get("/api/v1/desk/queue")).json()["items"]] == [
            "second",
            "third",
        ]
        await desk.post("/api/v1/desk/queue/next")
        await desk.post("/api/v1/desk/queue/next")
        empty = await desk.post("/api/v1/desk/queue/next")
    assert empty.status_code == 404 and empty.json()["detail"] == "No call is waiting."


async def test_two_desk_members_take_two_different_calls():
    url = create_pg_database("bridgedesk_queue")
    engine = create_engine_for(url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    try:
        async with sessions() as session, session.begin():
            from bridgedesk.models import User
            from reservations.models import Customer

            customer = Customer(name="Queue", timezone="UTC", billing_emails=[], created_at=T)
            session.add(customer)
            await session.flush()
            users = [
                User(
                    email=f"desk{n}@example.com",
                    name=f"Desk {n}",
                    password_hash="x",
                    role=Role.OPERATOR,
                    created_at=T,
                )
                for n in (1, 2)
            ]
            session.add_all(users)
            await session.flush()
            actors = [actor_of(u) for u in users]
            for n in range(2):
                await tickets.open_ticket(
                    session,
                    tickets.NewTicket(
                        customer.id,
                        "SL2",
                        f"call {n}",
                        "waiting",
                        "phone",
                        offered_at=datetime.now(UTC) - timedelta(seconds=60 - n),
                    ),
                    by=actors[0],
                )
        gate = asyncio.Event()

        async def take(actor) -> int:
            async with sessions() as session, session.begin():
                ticket = await phone_queue.answer_next(session, by=actor)
                await gate.wait()  # both hold their row until both have taken one
                return ticket.id

        first = asyncio.create_task(take(actors[0]))
        second = asyncio.create_task(take(actors[1]))
        await asyncio.sleep(0.5)
        gate.set()
        taken = await asyncio.gather(first, second)
        assert len(set(taken)) == 2
    finally:
        await engine.dispose()
        drop_pg_database(url)
