"""The outbox against a real SMTP server: delivered after commit, retried with backoff while the
server is down and never lost, gone with a rolled-back transaction, queued once per key."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
import time_machine
from sqlalchemy import func, select

from bridgedesk import outbox
from bridgedesk.db import unit_of_work
from bridgedesk.jobs import send_outbox_job
from bridgedesk.models import OutboxMessage
from bridgedesk.settings import get_settings

TEMPLATE = "reservations/email/confirmation_overdue.txt"
T0 = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


def _context(number: str = "C-2027-000042") -> dict[str, object]:
    return {
        "conference": SimpleNamespace(
            number=number,
            title="Quarterly review",
            confirmation_due=T0,
            starts_at=T0 + timedelta(days=1),
            requester_name="Sam Scheduler",
            booked_at=T0 - timedelta(hours=2),
        )
    }


async def _enqueue(session, **overrides: Any) -> OutboxMessage | None:
    return await outbox.enqueue_email(
        session,
        **{
            "topic": "test",
            "to": ["ops@provider.example", "desk@provider.example"],
            "template": TEMPLATE,
            "context": _context(),
            **overrides,
        },
    )


async def _count(db) -> int:
    return await db.scalar(select(func.count(OutboxMessage.id)))


async def test_queued_message_is_delivered_with_its_attachment(db, smtp):
    smtp.start()
    invite = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n"
    message = await _enqueue(
        db, attachments=[outbox.Attachment("meeting.ics", "text/calendar", invite)]
    )
    assert message is not None and message.sent_at is None

    assert await outbox.send_due(db) == 1

    assert len(smtp.mailbox.received) == 1
    recipients, delivered = smtp.mailbox.received[0]
    assert sorted(recipients) == ["desk@provider.example", "ops@provider.example"]
    assert delivered["Subject"] == "Confirmation overdue: C-2027-000042 Quarterly review"
    assert delivered["From"] == "desk@bridgedesk.example"
    assert "still waiting for confirmation" in delivered.get_body(("plain",)).get_content()
    [attachment] = list(delivered.iter_attachments())
    assert attachment.get_filename() == "meeting.ics"
    assert attachment.get_content_type() == "text/calendar"
    assert attachment.get_payload(decode=True) == invite
    await db.refresh(message)
    assert message.sent_at is not None and message.attempts == 1 and message.last_error is None
    # Sent once: the next run finds nothing to do.
    assert await outbox.send_due(db) == 0
    assert len(smtp.mailbox.received) == 1


async def test_the_sender_job_delivers_what_a_committed_unit_of_work_queued(db, smtp):
    smtp.start()
    async with unit_of_work() as session:
        await _enqueue(session)
    assert await send_outbox_job() == 1
    assert len(smtp.mailbox.received) == 1


async def test_a_message_survives_a_down_server_and_is_sent_later(db, smtp):
    with time_machine.travel(T0, tick=False):
        message = await _enqueue(db)
        assert message is not None
        # The server is down: the message stays, with its error and the next attempt's time.
        assert await outbox.send_due(db) == 0
    await db.refresh(message)
    assert message.attempts == 1 and message.sent_at is None and message.failed_at is None
    assert message.last_error
    first_retry = message.next_attempt_at
    assert first_retry == T0 + timedelta(seconds=30)

    with time_machine.travel(first_retry - timedelta(seconds=1), tick=False):
        assert await outbox.send_due(db) == 0  # not due yet: no attempt
    await db.refresh(message)
    assert message.attempts == 1

    with time_machine.travel(first_retry + timedelta(seconds=1), tick=False):
        assert await outbox.send_due(db) == 0  # still down: backoff doubles
    await db.refresh(message)
    assert message.attempts == 2
    assert message.next_attempt_at == first_retry + timedelta(seconds=1 + 60)

    smtp.start()
    with time_machine.travel(message.next_attempt_at + timedelta(seconds=1), tick=False):
        assert await outbox.send_due(db) == 1
    await db.refresh(message)
    assert message.sent_at is not None and message.attempts == 3 and message.last_error is None
    [(_, delivered)] = smtp.mailbox.received
    assert delivered["Subject"].startswith("Confirmation overdue")


async def test_a_message_that_keeps_failing_is_marked_failed_but_kept(db, smtp, monkeypatch):
    monkeypatch.setenv("BRIDGEDESK_OUTBOX_MAX_ATTEMPTS", "2")
    get_settings.cache_clear()
    with time_machine.travel(T0, tick=False):
        message = await _enqueue(db)
        await outbox.send_due(db)
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        await outbox.send_due(db)
    await db.refresh(message)
    assert message.attempts == 2 and message.failed_at is not None and message.sent_at is None
    assert await _count(db) == 1
    smtp.start()
    with time_machine.travel(T0 + timedelta(days=1), tick=False):
        assert await outbox.send_due(db) == 0  # given up on: needs a person, not a loop
    assert smtp.mailbox.received == []


async def test_a_rolled_back_unit_of_work_leaves_no_message(db, smtp):
    smtp.start()
    with pytest.raises(RuntimeError):
        async with unit_of_work() as session:
            await _enqueue(session)
            raise RuntimeError("the change failed after queuing its notification")
    assert await _count(db) == 0
    assert await outbox.send_due(db) == 0
    assert smtp.mailbox.received == []
    # The control: the same unit of work, completed, leaves exactly one.
    async with unit_of_work() as session:
        await _enqueue(session)
    assert await _count(db) == 1


async def test_a_dedupe_key_queues_once(db, smtp):
    first = await _enqueue(db, dedupe_key="overdue:42")
    again = await _enqueue(db, dedupe_key="overdue:42", context=_context("C-2027-000099"))
    other = await _enqueue(db, dedupe_key="overdue:43")
    assert first is not None and again is None and other is not None
    assert await _count(db) == 2
    # Once sent, the key still holds: a later run of the job does not queue it again.
    smtp.start()
    assert await outbox.send_due(db) == 2
    assert await _enqueue(db, dedupe_key="overdue:42") is None
    assert await _count(db) == 2


async def test_no_recipients_queues_nothing(db):
    assert await _enqueue(db, to=["", ""]) is None
    assert await _count(db) == 0
