"""Isolation of scheduled work: an item whose work raises is rolled back alone, logged with the
row it names and skipped, and the other items' work stands; with the real jobs, a poison row
written straight into the database holds up no other row."""

import logging
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select, update

from bridgedesk import isolation
from bridgedesk.app.jobs import send_outbox_job
from bridgedesk.identity import Role
from monitoring.jobs import mark_ticket_breaches_job
from monitoring.models import Ticket, TicketBreach
from reservations.models import Customer
from tests.monitoring.test_tickets import body

T = datetime(2027, 1, 12, 9, 0, tzinfo=UTC)


async def test_each_in_savepoint_rolls_back_only_the_item_that_raises(db, make_customer, caplog):
    customers = [await make_customer(name=f"Isolated {i}") for i in range(3)]
    # Read now: the failed item's row is expired by its rollback (an async session cannot
    # load it implicitly afterwards).
    ids = [c.id for c in customers]

    async def rename(customer: Customer) -> None:
        customer.name = f"{customer.name} (done)"
        await db.flush()
        if customer is customers[1]:
            raise ValueError("a poison row")

    with caplog.at_level(logging.ERROR, logger="bridgedesk.jobs"):
        skipped = await isolation.each_in_savepoint(
            db, customers, rename, job="rename", name=lambda c: f"customer {c.id}"
        )
    assert [(s.item, s.cause) for s in skipped] == [
        (f"customer {ids[1]}", "ValueError: a poison row")
    ]
    names = (
        await db.scalars(select(Customer.name).where(Customer.id.in_(ids)).order_by(Customer.id))
    ).all()
    assert names == ["Isolated 0 (done)", "Isolated 1", "Isolated 2 (done)"]
    assert f"rename: customer {ids[1]} failed and was skipped" in caplog.text


async def test_each_in_own_unit_goes_on_after_an_item_that_raises(db, make_customer):
    async def work(session, number: int) -> int:
        if number == 2:
            raise RuntimeError("cannot")
        return number * 10

    done, skipped = await isolation.each_in_own_unit(
        [1, 2, 3], work, job="numbers", name=lambda n: f"number {n}"
    )
    assert done == [10, 30]
    assert [s.item for s in skipped] == ["number 2"]


async def test_a_poison_ticket_does_not_stop_the_breach_job(
    db, make_customer, client_as, smtp_server, caplog
):
    """A ticket whose tier is unknown (written straight into the database) makes telling the
    next tier raise: that ticket is skipped with a log line naming it; the healthy ticket's
    breach is recorded and its tier is told."""
    customer = await make_customer()
    with time_machine.travel(T, tick=False) as clock:
        desk = await client_as(Role.OPERATOR)
        healthy, poison = [
            (await desk.post("/api/v1/tickets", json=body(customer.id, "SL4"))).json()
            for _ in range(2)
        ]
        await db.execute(update(Ticket).where(Ticket.id == poison["id"]).values(tier="9"))
        clock.shift(timedelta(minutes=11))  # both missed their 10-minute response clock
        with caplog.at_level(logging.ERROR, logger="bridgedesk.jobs"):
            assert await mark_ticket_breaches_job() == 1
        assert await send_outbox_job() == 1
    breached = (await db.scalars(select(TicketBreach.ticket_id))).all()
    assert breached == [healthy["id"]]
    assert f"mark_ticket_breaches: ticket {poison['id']} failed" in caplog.text
    assert [to for to, _ in smtp_server.mailbox.with_subject("SLA response breach")] == [
        ["support-tier-2@localhost"]
    ]


@pytest.fixture
def smtp_server(smtp):
    smtp.start()
    return smtp
