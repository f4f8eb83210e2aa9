"""Help-desk tickets: the default policy's targets, business-hours clocks through the API,
the lifecycle with pauses, and the breach job that tells the next tier."""

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from bridgedesk.app.jobs import send_outbox_job
from bridgedesk.auth import actor_of
from bridgedesk.db import create_engine_for
from bridgedesk.errors import Conflict
from bridgedesk.identity import Role
from bridgedesk.models import OutboxMessage, User
from monitoring.models import SlaPolicy, Ticket, TicketEvent
from monitoring.service import ticket_handling, tickets
from monitoring.service.breaches import mark_breaches
from reservations.models import Customer
from tests.conftest import create_pg_database, drop_pg_database

LA = ZoneInfo("America/Los_Angeles")
T = datetime(2027, 1, 12, 9, 0, tzinfo=UTC)  # a Tuesday


def body(customer_id: int, severity: str = "SL3", channel: str = "phone", **extra):
    return {
        "customer_id": customer_id,
        "severity": severity,
        "summary": "Cannot join the board meeting",
        "description": "Join fails with 'bridge unreachable' from the Denver lab.",
        "channel": channel,
        "caller_name": "Dana",
        "caller_account": "ACME-0042",
        "caller_system": "Denver Lab codec",
        **extra,
    }


async def _policy_id(db, name_start: str) -> int:
    return await db.scalar(select(SlaPolicy.id).where(SlaPolicy.name.startswith(name_start)))


async def test_the_default_policy_is_the_published_table(db, client_as):
    operator = await client_as(Role.OPERATOR)
    policies = (await operator.get("/api/v1/sla-policies")).json()
    assert len(policies) == 3
    (default,) = [p for p in policies if p["name"] == "Provider default (24/7)"]
    figures = {
        t["severity"]: (t["respond"]["minutes"], t["resolve"]["minutes"], t["respond"]["business"])
        for t in default["targets"]
    }
    assert figures == {
        "SL4": (10, 24 * 60, False),
        "SL3": (15, 24 * 60, False),
        "SL2": (30, 24 * 60, False),
        "SL1": (30, 8 * 60, False),
    }
    assert {t["severity"]: t["resolve_goal_minutes"] for t in default["targets"]}["SL4"] == 30


@pytest.mark.parametrize(
    "severity, respond, resolve",
    [("SL4", 10, 24 * 60), ("SL3", 15, 24 * 60), ("SL2", 30, 24 * 60), ("SL1", 30, 8 * 60)],
)
async def test_tickets_on_the_default_policy_get_its_clocks(
    db, make_customer, client_as, severity, respond, resolve
):
    customer = await make_customer()
    with time_machine.travel(T, tick=False):
        scheduler = await client_as(Role.SCHEDULER, customer_id=customer.id)
        response = await scheduler.post("/api/v1/tickets", json=body(customer.id, severity))
    assert response.status_code == 201, response.text
    ticket = response.json()
    assert datetime.fromisoformat(ticket["respond_by"]) == T + timedelta(minutes=respond)
    assert datetime.fromisoformat(ticket["resolve_by"]) == T + timedelta(minutes=resolve)
    assert ticket["caller_account"] == "ACME-0042" and ticket["suggested_severity"] == severity
    assert ticket["caller_company"] == customer.name and ticket["tier"] == "1"


@pytest.mark.parametrize("severity, minutes", [("SL1", 24 * 60), ("SL3", 15), ("SL4", 10)])
async def test_email_never_weakens_a_severity_s_response_target(
    db, make_customer, client_as, severity, minutes
):
    """SPEC §6: the 24 h email target is for routine mail; an SL4 by email is still 10 min."""
    customer = await make_customer()
    with time_machine.travel(T, tick=False):
        desk = await client_as(Role.OPERATOR)
        ticket = (
            await desk.post("/api/v1/tickets", json=body(customer.id, severity, "email"))
        ).json()
    assert datetime.fromisoformat(ticket["respond_by"]) == T + timedelta(minutes=minutes)


@pytest.mark.parametrize(
    "opened, due",
    [
        (datetime(2027, 1, 8, 16, tzinfo=LA), datetime(2027, 1, 11, 11, tzinfo=LA)),
        # Labor Day, Monday 6 September 2027, moves it to Tuesday.
        (datetime(2027, 9, 3, 16, tzinfo=LA), datetime(2027, 9, 7, 11, tzinfo=LA)),
    ],
)
async def test_pacific_business_hours_through_the_api(db, make_customer, client_as, opened, due):
    customer = await make_customer(timezone="America/Los_Angeles")
    pacific = await _policy_id(db, "Business hours 08:00-17:00 US/Pacific")
    with time_machine.travel(opened, tick=False):
        admin = await client_as(Role.ADMIN)
        assigned = await admin.put(
            f"/api/v1/customers/{customer.id}/sla-policy", json={"policy_id": pacific}
        )
        assert assigned.status_code == 200, assigned.text
        ticket = (await admin.post("/api/v1/tickets", json=body(customer.id, "SL3"))).json()
        # After hours, a system-down emergency is answered within 2 h of wall time.
        urgent = (await admin.post("/api/v1/tickets", json=body(customer.id, "SL4"))).json()
    assert datetime.fromisoformat(ticket["respond_by"]) == due
    assert datetime.fromisoformat(urgent["respond_by"]) == opened + timedelta(hours=2)


async def test_waiting_on_the_customer_pauses_the_resolution_clock(db, make_customer, client_as):
    customer = await make_customer()
    with time_machine.travel(T, tick=False) as clock:
        desk = await client_as(Role.TECHNICIAN)
        opened = (await desk.post("/api/v1/tickets", json=body(customer.id, "SL3"))).json()
        clock.shift(timedelta(minutes=5))
        responded = await desk.post(
            f"/api/v1/tickets/{opened['id']}/respond", json={"note": "On it"}
        )
        assert responded.status_code == 200, responded.text
        waiting = (await desk.post(f"/api/v1/tickets/{opened['id']}/wait", json={})).json()
        assert waiting["status"] == "waiting" and waiting["resolve_by"] is None
        clock.shift(timedelta(hours=3))
        resumed = (await desk.post(f"/api/v1/tickets/{opened['id']}/resume", json={})).json()
        # 24 h from the report, plus the 3 h spent waiting on the customer.
        assert datetime.fromisoformat(resumed["resolve_by"]) == T + timedelta(hours=27)
        escalated = (
            await desk.post(f"/api/v1/tickets/{opened['id']}/escalate", json={"note": "codec bug"})
        ).json()
        assert escalated["tier"] == "2"
        resolved = await desk.post(
            f"/api/v1/tickets/{opened['id']}/resolve",
            json={"closure_reason": "patch_provided", "note": "firmware 9.3"},
        )
        assert resolved.status_code == 200, resolved.text
        clock.shift(timedelta(hours=1))
        customer_user = await client_as(Role.SCHEDULER, customer_id=customer.id)
        reopened = (
            await customer_user.post(
                f"/api/v1/tickets/{opened['id']}/reopen", json={"note": "Still failing"}
            )
        ).json()
    assert reopened["status"] == "responded" and reopened["closure_reason"] is None
    # The hour it sat resolved is not the desk's time either.
    assert datetime.fromisoformat(reopened["resolve_by"]) == T + timedelta(hours=28)
    assert [e["kind"] for e in reopened["timeline"]] == [
        "opened",
        "responded",
        "waiting",
        "resumed",
        "escalated",
        "resolved",
        "reopened",
    ]


async def _ticket_rows(db) -> tuple:
    rows = await db.execute(
        select(Ticket.id, Ticket.status, Ticket.severity, Ticket.tier, Ticket.resolve_by).order_by(
            Ticket.id
        )
    )
    events = await db.scalar(select(func.count(TicketEvent.id)))
    return (tuple(tuple(r) for r in rows), events)


async def test_refusals(db, make_customer, client_as):
    customer_id = (await make_customer()).id
    other_id = (await make_customer()).id
    desk = await client_as(Role.OPERATOR)
    ticket = (await desk.post("/api/v1/tickets", json=body(customer_id))).json()
    db.expire_all()
    before = await _ticket_rows(db)
    outsider = await client_as(Role.SCHEDULER, customer_id=other_id)
    assert (await outsider.get(f"/api/v1/tickets/{ticket['id']}")).status_code == 404
    assert (await outsider.post("/api/v1/tickets", json=body(customer_id))).status_code == 404
    insider = await client_as(Role.SCHEDULER, customer_id=customer_id)
    assert (
        await insider.post(f"/api/v1/tickets/{ticket['id']}/respond", json={})
    ).status_code == 403
    bad = await desk.post(
        f"/api/v1/tickets/{ticket['id']}/resolve", json={"closure_reason": "gave up"}
    )
    assert bad.status_code == 422
    assert (await desk.post(f"/api/v1/tickets/{ticket['id']}/resume", json={})).status_code == 409
    assert (
        await desk.post(
            "/api/v1/tickets", json=body(customer_id, reported_at="2027-01-01T00:00:00")
        )
    ).status_code == 422
    finance = await client_as(Role.FINANCE)
    assert (await finance.post("/api/v1/tickets", json=body(customer_id))).status_code == 403
    db.expire_all()
    assert await _ticket_rows(db) == before  # every refusal above changed nothing
    listed = (await insider.get("/api/v1/tickets")).json()["items"]
    assert [t["id"] for t in listed] == [ticket["id"]]
    assert (await outsider.get("/api/v1/tickets")).json()["items"] == []


async def test_missed_clocks_are_marked_once_and_the_next_tier_hears(
    db, make_customer, client_as, smtp_server
):
    customer = await make_customer()
    with time_machine.travel(T, tick=False) as clock:
        desk = await client_as(Role.OPERATOR)
        ticket = (await desk.post("/api/v1/tickets", json=body(customer.id, "SL4"))).json()
        clock.shift(timedelta(minutes=9))
        assert await mark_breaches(db) == 0
        clock.shift(timedelta(minutes=2))  # 11 minutes: the 10-minute response clock is missed
        assert await mark_breaches(db) == 1
        assert await mark_breaches(db) == 0  # idempotent
        await desk.post(f"/api/v1/tickets/{ticket['id']}/respond", json={})
        assert await mark_breaches(db) == 0  # the late answer is the same breach
        clock.shift(timedelta(minutes=61))  # SL4 updates every 60 minutes
        assert await mark_breaches(db) == 1
        assert await send_outbox_job() == 2
        detail = (await desk.get(f"/api/v1/tickets/{ticket['id']}")).json()
    assert [(b["kind"], b["notified_tier"]) for b in detail["breaches"]] == [
        ("response", "2"),
        ("update", "2"),
    ]
    mails = smtp_server.mailbox.with_subject("SLA response breach")
    assert [to for to, _ in mails] == [["support-tier-2@localhost"]]
    assert f"ticket #{ticket['id']}" in str(mails[0][1]["Subject"])
    rows = await db.scalar(select(Ticket).where(Ticket.id == ticket["id"]))
    assert rows is not None
    topics = (await db.scalars(select(OutboxMessage.topic))).all()
    assert topics.count("ticket_breach") == 2


@pytest.mark.postgres
async def test_two_desk_members_answering_at_once_take_turns():
    """On PostgreSQL the ticket row is locked by the first answer: the second waits, then
    finds the ticket already answered (409), and the timeline has one answer."""
    url = create_pg_database("bridgedesk_ticket_race")
    engine = create_engine_for(url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    try:
        async with sessions() as session, session.begin():
            customer = Customer(name="Race", timezone="UTC", billing_emails=[], created_at=T)
            session.add(customer)
            desk = User(
                email="desk@example.com",
                name="Desk",
                password_hash="x",
                role="operator",
                customer_id=None,
                active=True,
                created_at=T,
            )
            session.add(desk)
            await session.flush()
            by = actor_of(desk)
            ticket = await tickets.open_ticket(
                session, tickets.NewTicket(customer.id, "SL3", "s", "d", "phone"), by=by
            )

        async def answer() -> str:
            async with sessions() as session, session.begin():
                try:
                    await ticket_handling.respond(
                        session, ticket.id, note="mine", severity=None, by=by
                    )
                except Conflict:
                    return "refused"
                await asyncio.sleep(0.3)  # hold the lock while the other one arrives
                return "answered"

        assert sorted(await asyncio.gather(answer(), answer())) == ["answered", "refused"]
        async with sessions() as session:
            kinds = [e.kind for e in await tickets.timeline(session, ticket)]
        assert kinds == ["opened", "responded"]
    finally:
        await engine.dispose()
        drop_pg_database(url)
