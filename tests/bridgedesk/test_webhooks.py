"""The outbox's webhook channel: an SL4 ticket pages the on-call engineer with a signed POST
that a real HTTP receiver on loopback gets, retried with backoff after it first answers 500."""

import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from bridgedesk import outbox, webhooks
from bridgedesk.identity import Role
from bridgedesk.models import OutboxMessage
from bridgedesk.settings import get_settings
from tests.webhook_receiver import webhook_receiver

SECRET = "on-call-shared-secret"
T = datetime(2027, 1, 12, 9, 0, tzinfo=UTC)


@pytest.fixture
def oncall(monkeypatch):
    with webhook_receiver(500, 200) as receiver:
        monkeypatch.setenv("BRIDGEDESK_ONCALL_WEBHOOK_URL", receiver.url)
        monkeypatch.setenv("BRIDGEDESK_WEBHOOK_SECRET", SECRET)
        get_settings.cache_clear()
        yield receiver
    get_settings.cache_clear()


def test_signature_is_hmac_sha256_of_the_body():
    body = b'{"event": "sl4_ticket"}'
    # Worked with Python's hmac by hand once; a wrong secret or a changed body fails.
    header = webhooks.signature(body, SECRET)
    assert header.startswith("sha256=") and len(header) == len("sha256=") + 64
    assert webhooks.verify(body, header, SECRET)
    assert not webhooks.verify(body, header, "wrong-secret")
    assert not webhooks.verify(body + b" ", header, SECRET)
    assert not webhooks.verify(body, None, SECRET)


async def test_an_sl4_ticket_pages_on_call_signed_and_retried_after_a_500(
    db, make_customer, client_as, oncall
):
    customer = await make_customer(name="Harbour Freight")
    with time_machine.travel(T, tick=False):
        desk = await client_as(Role.OPERATOR)
        response = await desk.post(
            "/api/v1/tickets",
            json={
                "customer_id": customer.id,
                "severity": "SL4",
                "summary": "Bridge down: board meeting cannot start",
                "description": "Every site fails to connect.",
                "channel": "phone",
            },
        )
        assert response.status_code == 201, response.text
        ticket = response.json()
        # Sent after commit by the outbox's sender: the receiver answers 500 the first time.
        assert await outbox.send_due() == 0
    assert len(oncall.received) == 1
    message = await db.scalar(select(OutboxMessage).where(OutboxMessage.channel == "webhook"))
    assert message is not None and message.sent_at is None and message.attempts == 1
    assert message.last_error and "500" in message.last_error
    assert message.next_attempt_at == T + timedelta(seconds=30)  # backoff, as for email
    with time_machine.travel(T + timedelta(seconds=29), tick=False):
        assert await outbox.send_due() == 0  # not due yet: no second request
    assert len(oncall.received) == 1
    with time_machine.travel(T + timedelta(seconds=31), tick=False):
        assert await outbox.send_due() == 1
    await db.refresh(message)
    assert message.sent_at is not None and message.attempts == 2
    assert len(oncall.received) == 2
    first, second = oncall.received
    assert first.body == second.body  # the same signed payload, retried
    payload = json.loads(second.body)
    assert payload["event"] == "sl4_ticket" and payload["ticket_id"] == ticket["id"]
    assert payload["respond_by"] == (T + timedelta(minutes=10)).isoformat()
    assert second.headers["Content-Type"] == "application/json"
    header = second.headers[webhooks.SIGNATURE_HEADER]
    assert webhooks.verify(second.body, header, SECRET)
    assert not webhooks.verify(second.body, header, "not-the-shared-secret")
    # Paged once: sending again posts nothing new.
    with time_machine.travel(T + timedelta(minutes=5), tick=False):
        assert await outbox.send_due() == 0
    assert len(oncall.received) == 2


async def test_nothing_is_paged_without_an_on_call_url(db, make_customer, client_as, monkeypatch):
    monkeypatch.delenv("BRIDGEDESK_ONCALL_WEBHOOK_URL", raising=False)
    get_settings.cache_clear()
    customer = await make_customer()
    desk = await client_as(Role.OPERATOR)
    response = await desk.post(
        "/api/v1/tickets",
        json={
            "customer_id": customer.id,
            "severity": "SL4",
            "summary": "Down",
            "description": "Down",
            "channel": "web",
        },
    )
    assert response.status_code == 201
    assert await db.scalar(select(OutboxMessage).where(OutboxMessage.channel == "webhook")) is None
