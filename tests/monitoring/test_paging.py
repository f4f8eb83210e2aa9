"""On-call paging: each urgent event of SPEC §6 queues one signed webhook to the on-call
URL (the channel's delivery is tests/bridgedesk/test_webhooks.py): an SL4 ticket, a ticket
that becomes SL4, a bridge outage opened by the prober, and a missed help-desk clock."""

import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from bridgedesk.identity import Role
from bridgedesk.models import OutboxMessage
from bridgedesk.settings import get_settings
from monitoring.service.breaches import mark_breaches
from monitoring.service.probing import record_sample

T = datetime(2027, 1, 12, 9, 0, tzinfo=UTC)
URL = "http://127.0.0.1:9/oncall"


@pytest.fixture(autouse=True)
def paging(monkeypatch):
    monkeypatch.setenv("BRIDGEDESK_ONCALL_WEBHOOK_URL", URL)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def _pages(db) -> list[dict[str, object]]:
    rows = await db.scalars(
        select(OutboxMessage).where(OutboxMessage.channel == "webhook").order_by(OutboxMessage.id)
    )
    out = []
    for row in rows:
        assert row.recipients == [URL]
        out.append(json.loads(row.body))
    return out


def _ticket(customer_id: int, severity: str) -> dict[str, object]:
    return {
        "customer_id": customer_id,
        "severity": severity,
        "summary": "Cannot join",
        "description": "Join fails.",
        "channel": "web",
    }


async def test_a_ticket_raised_to_sl4_pages_once(db, make_customer, client_as):
    customer = await make_customer()
    desk = await client_as(Role.OPERATOR)
    ticket = (await desk.post("/api/v1/tickets", json=_ticket(customer.id, "SL3"))).json()
    assert await _pages(db) == []
    raised = await desk.post(f"/api/v1/tickets/{ticket['id']}/respond", json={"severity": "SL4"})
    assert raised.status_code == 200, raised.text
    [page] = await _pages(db)
    assert (page["event"], page["ticket_id"]) == ("sl4_ticket", ticket["id"])


async def test_a_missed_clock_pages_as_well_as_telling_the_next_tier(db, make_customer, client_as):
    customer = await make_customer()
    with time_machine.travel(T, tick=False) as clock:
        desk = await client_as(Role.OPERATOR)
        ticket = (await desk.post("/api/v1/tickets", json=_ticket(customer.id, "SL3"))).json()
        clock.shift(timedelta(minutes=16))  # SL3 is answered within 15 minutes
        assert await mark_breaches(db) == 1
        assert await mark_breaches(db) == 0
    [page] = await _pages(db)
    assert (page["event"], page["ticket_id"], page["kind"]) == (
        "ticket_breach",
        ticket["id"],
        "response",
    )


async def test_a_bridge_outage_opened_by_the_prober_pages(db):
    target = "sip:bridge-1@127.0.0.1"
    await record_sample(db, "reservations", "http://127.0.0.1/healthz", T, False, "down")
    await record_sample(
        db, "reservations", "http://127.0.0.1/healthz", T + timedelta(minutes=1), False
    )
    await record_sample(db, "bridge", target, T, False, "timeout")
    assert await _pages(db) == []  # one failure opens nothing
    await record_sample(db, "bridge", target, T + timedelta(minutes=1), False, "timeout")
    await record_sample(db, "bridge", target, T + timedelta(minutes=2), False, "timeout")
    [page] = await _pages(db)  # the reservations site's outage does not page; the bridge's once
    assert (page["event"], page["target"]) == ("bridge_outage", target)
