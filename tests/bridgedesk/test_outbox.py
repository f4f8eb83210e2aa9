"""The outbox against a real SMTP server: delivered after commit, retried with backoff while the
server is down and never lost, gone with a rolled-back transaction, queued once per key; claimed
under a lease, so no transaction stays open while mail is sent and no message goes out twice."""

import asyncio
import threading
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
import time_machine
from sqlalchemy import func, select

from bridgedesk import outbox
from bridgedesk.app.jobs import send_outbox_job
from bridgedesk.db import create_engine_for, database, unit_of_work
from bridgedesk.migrate import upgrade
from bridgedesk.models import OutboxMessage
from bridgedesk.settings import get_settings

TEMPLATE = "reservations/email/confirmation_overdue.txt"
T0 = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)  # the setting's default


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

    assert await outbox.send_due() == 1

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
    assert await outbox.send_due() == 0
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
        assert await outbox.send_due() == 0
    await db.refresh(message)
    assert message.attempts == 1 and message.sent_at is None and message.failed_at is None
    assert message.last_error
    first_retry = message.next_attempt_at
    assert first_retry == T0 + timedelta(seconds=30)

    with time_machine.travel(first_retry - timedelta(seconds=1), tick=False):
        assert await outbox.send_due() == 0  # not due yet: no attempt
    await db.refresh(message)
    assert message.attempts == 1

    with time_machine.travel(first_retry + timedelta(seconds=1), tick=False):
        assert await outbox.send_due() == 0  # still down: backoff doubles
    await db.refresh(message)
    assert message.attempts == 2
    assert message.next_attempt_at == first_retry + timedelta(seconds=1 + 60)

    smtp.start()
    with time_machine.travel(message.next_attempt_at + timedelta(seconds=1), tick=False):
        assert await outbox.send_due() == 1
    await db.refresh(message)
    assert message.sent_at is not None and message.attempts == 3 and message.last_error is None
    [(_, delivered)] = smtp.mailbox.received
    assert delivered["Subject"].startswith("Confirmation overdue")


async def test_a_message_that_keeps_failing_is_marked_failed_but_kept(db, smtp, monkeypatch):
    monkeypatch.setenv("BRIDGEDESK_OUTBOX_MAX_ATTEMPTS", "2")
    get_settings.cache_clear()
    with time_machine.travel(T0, tick=False):
        message = await _enqueue(db)
        await outbox.send_due()
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        await outbox.send_due()
    await db.refresh(message)
    assert message.attempts == 2 and message.failed_at is not None and message.sent_at is None
    assert await _count(db) == 1
    smtp.start()
    with time_machine.travel(T0 + timedelta(days=1), tick=False):
        assert await outbox.send_due() == 0  # given up on: needs a person, not a loop
    assert smtp.mailbox.received == []


async def test_a_rolled_back_unit_of_work_leaves_no_message(db, smtp):
    smtp.start()
    with pytest.raises(RuntimeError):
        async with unit_of_work() as session:
            await _enqueue(session)
            raise RuntimeError("the change failed after queuing its notification")
    assert await _count(db) == 0
    assert await outbox.send_due() == 0
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
    assert await outbox.send_due() == 2
    assert await _enqueue(db, dedupe_key="overdue:42") is None
    assert await _count(db) == 2


async def test_no_recipients_queues_nothing(db):
    assert await _enqueue(db, to=["", ""]) is None
    assert await _count(db) == 0


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_a_claimed_message_goes_to_one_sender_until_its_lease_runs_out(db, backend):
    with time_machine.travel(T0, tick=False):
        message = await _enqueue(db)
        assert message is not None
        async with unit_of_work() as session:
            [claimed] = await outbox.claim_due(session, lease=LEASE)
        assert claimed.id == message.id and claimed.lease_until == T0 + LEASE
        assert claimed.subject.startswith("Confirmation overdue")
        # A second sender, while the first delivers: nothing for it.
        async with unit_of_work() as session:
            assert await outbox.claim_due(session, lease=LEASE) == []
    with time_machine.travel(T0 + LEASE - timedelta(seconds=1), tick=False):
        async with unit_of_work() as session:
            assert await outbox.claim_due(session, lease=LEASE) == []
    # The first sender never recorded an outcome (it died): the message is sent again.
    with time_machine.travel(T0 + LEASE, tick=False):
        async with unit_of_work() as session:
            [again] = await outbox.claim_due(session, lease=LEASE)
        assert again.id == message.id
        # Both report: once marked sent, the message stays sent whatever the other says.
        async with unit_of_work() as session:
            await outbox.record_sent(session, message.id)
        async with unit_of_work() as session:
            await outbox.record_failure(session, message.id, "OSError: connection reset")
            await outbox.record_sent(session, message.id)
    await db.refresh(message)
    assert message.sent_at == T0 + LEASE and message.attempts == 1 and message.last_error is None


async def test_a_sender_short_of_lease_leaves_the_rest_to_the_next_run(db, smtp, monkeypatch):
    """A slow server must not stretch a batch past its lease, when another sender may claim."""
    smtp.start()
    deliver = outbox._deliver
    with time_machine.travel(T0, tick=False) as traveller:
        first, second = await _enqueue(db), await _enqueue(db)
        assert first is not None and second is not None

        def slow_deliver(*args: Any) -> None:
            deliver(*args)
            smtp_timeout = timedelta(seconds=outbox.SMTP_TIMEOUT_SECONDS)
            traveller.move_to(T0 + LEASE - smtp_timeout)

        monkeypatch.setattr(outbox, "_deliver", slow_deliver)
        assert await outbox.send_due() == 1
    await db.refresh(second)
    assert second.sent_at is None and second.attempts == 0
    assert second.next_attempt_at == T0 + LEASE
    with time_machine.travel(T0 + LEASE, tick=False):
        assert await outbox.send_due() == 1
    assert len(smtp.mailbox.received) == 2


@pytest.fixture
async def own_sqlite_database(tmp_path):
    """A migrated SQLite file with real connections of its own, unlike the `db` fixture's one
    connection, so that a second unit of work can be seen to wait for the database lock."""
    url = f"sqlite:///{tmp_path / 'outbox.db'}"
    upgrade(url)
    database.use(create_engine_for(url))
    try:
        yield url
    finally:
        await database.dispose()
        database._engine = None
        database._sessions = None


async def test_the_database_is_not_locked_while_mail_is_being_delivered(own_sqlite_database, smtp):
    async with unit_of_work() as session:
        await _enqueue(session)
    gate = smtp.mailbox.gate = threading.Event()
    smtp.start()
    sending = asyncio.create_task(outbox.send_due())

    async def meanwhile() -> int:
        """Another sender, and a request that queues mail: each needs SQLite's write lock."""
        sent_by_second_sender = await outbox.send_due()
        async with unit_of_work() as session:
            await _enqueue(session, dedupe_key="queued-while-sending")
        return sent_by_second_sender

    others = asyncio.create_task(meanwhile())
    try:
        assert await asyncio.to_thread(smtp.mailbox.at_gate.wait, 10), "delivery never started"
        # Well under SQLite's busy_timeout (30 s), which is what a blocked request would wait.
        await asyncio.wait([others], timeout=5)
        assert others.done(), "the database stayed locked while the SMTP server held a message"
        assert not sending.done() and smtp.mailbox.received == []  # still being delivered
        assert await others == 0  # the message being delivered is not the second sender's
    finally:
        gate.set()
        await asyncio.gather(sending, others, return_exceptions=True)
    assert await sending == 1
    assert await outbox.send_due() == 1  # the one queued meanwhile
    assert len(smtp.mailbox.received) == 2


async def test_a_message_that_cannot_be_built_fails_alone_and_the_rest_are_delivered(
    db, smtp, monkeypatch
):
    """A stored attachment that cannot be decoded (written straight into the database) makes
    building its email raise: that is a failed attempt with its cause, the messages queued
    behind it are delivered, and after its attempts it is `failed`."""
    monkeypatch.setenv("BRIDGEDESK_OUTBOX_MAX_ATTEMPTS", "3")
    get_settings.cache_clear()
    smtp.start()
    with time_machine.travel(T0, tick=False):
        poison = await _enqueue(db, context=_context("C-2027-000001"))
        behind = [await _enqueue(db, context=_context(f"C-2027-00010{i}")) for i in range(2)]
        assert poison is not None and all(m is not None for m in behind)
        poison.attachments = [{"filename": "invite.ics", "content_type": "text/calendar"}]
        await db.flush()
        assert await send_outbox_job() == 2
    delivered = sorted(str(m["Subject"]) for _, m in smtp.mailbox.received)
    assert [s.split()[2] for s in delivered] == ["C-2027-000100", "C-2027-000101"]
    await db.refresh(poison)
    assert poison.sent_at is None and poison.failed_at is None and poison.attempts == 1
    assert poison.last_error is not None and poison.last_error.startswith("KeyError")
    for hours in (1, 2):
        with time_machine.travel(T0 + timedelta(hours=hours), tick=False):
            assert await send_outbox_job() == 0
    await db.refresh(poison)
    assert poison.attempts == 3 and poison.failed_at is not None and poison.sent_at is None
    # Still a message queued after it is delivered: nothing waits behind the failed one.
    with time_machine.travel(T0 + timedelta(hours=3), tick=False):
        await _enqueue(db, context=_context("C-2027-000200"))
        assert await send_outbox_job() == 1
    assert len(smtp.mailbox.received) == 3
