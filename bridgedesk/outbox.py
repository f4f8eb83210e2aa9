"""The transactional outbox: notifications written with the change, sent after commit with retries.

A message is committed together with the change it reports, so a crash never loses one. The
sender works in three steps so that no transaction stays open while a mail server talks:
it claims due rows in one short transaction (pushing each one's next attempt a lease ahead,
so another sender passes over it), delivers them with no transaction open, and records each
outcome in its own short transaction. Delivery is at-least-once: a crash between the SMTP
handover and the record resends the message once its lease has run out.
"""

import asyncio
import base64
import logging
import smtplib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bridgedesk import isolation, webhooks
from bridgedesk.clock import utcnow
from bridgedesk.models import OutboxMessage
from bridgedesk.settings import Settings, get_settings
from bridgedesk.templating import render_email
from bridgedesk.text import header_value

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    content: bytes


async def enqueue_email(
    session: AsyncSession,
    *,
    topic: str,
    to: Iterable[str],
    template: str,
    context: dict[str, object],
    attachments: Sequence[Attachment] = (),
    dedupe_key: str | None = None,
) -> OutboxMessage | None:
    """Queue an email in the caller's transaction; with `dedupe_key`, at most once ever."""
    recipients = sorted({address for address in to if address})
    if not recipients:
        return None
    if dedupe_key is not None:
        existing = await session.scalar(
            select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key)
        )
        if existing is not None:
            return None
    subject, body = render_email(template, **context)
    now = utcnow()
    message = OutboxMessage(
        channel="email",
        topic=topic,
        dedupe_key=dedupe_key,
        recipients=recipients,
        subject=header_value(subject),  # a header never carries CR/LF, whatever a title held
        body=body,
        attachments=[
            {
                "filename": header_value(a.filename),
                "content_type": a.content_type,
                "content_b64": base64.b64encode(a.content).decode(),
            }
            for a in attachments
        ],
        created_at=now,
        next_attempt_at=now,
        attempts=0,
    )
    session.add(message)
    await session.flush()
    return message


@dataclass(frozen=True)
class ClaimedMessage:
    """A claimed message as stored, read before its claim committed. Nothing is built from it
    yet: building (headers, attachments) belongs to the attempt, where any failure counts."""

    id: int
    channel: str
    topic: str
    recipients: list[str]
    subject: str
    body: str
    # As stored: [{"filename", "content_type", "content_b64"}]
    attachments: list[dict[str, Any]]
    # Another sender may claim the message again from this instant on.
    lease_until: datetime


# One attempt at delivering a claimed message on its channel; blocking (run in a thread), it
# raises on any failure. `register_sender` adds channels (e.g. a signed webhook for paging).
Sender = Callable[[ClaimedMessage, Settings], None]


# smtplib's timeout for each step of the conversation; delivery starts only while at least
# this much of the lease is left, so a slow server cannot stretch it past the lease.
SMTP_TIMEOUT_SECONDS = 30


async def claim_due(
    session: AsyncSession, *, lease: timedelta, limit: int = 50
) -> list[ClaimedMessage]:
    """Claim up to `limit` due messages for `lease`: until then no other claim returns them."""
    now = utcnow()
    due = (
        await session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.sent_at.is_(None),
                OutboxMessage.failed_at.is_(None),
                OutboxMessage.next_attempt_at <= now,
            )
            .order_by(OutboxMessage.id)
            .limit(limit)
            # PostgreSQL: a concurrent claim skips these rows instead of waiting for them.
            .with_for_update(skip_locked=True)
        )
    ).all()
    lease_until = now + lease
    for message in due:
        message.next_attempt_at = lease_until
    await session.flush()
    return [
        ClaimedMessage(
            id=message.id,
            channel=message.channel,
            topic=message.topic,
            recipients=message.recipients,
            subject=message.subject,
            body=message.body,
            attachments=message.attachments,
            lease_until=lease_until,
        )
        for message in due
    ]


async def _unsent(session: AsyncSession, message_id: int) -> OutboxMessage | None:
    """The message, locked for the record, unless it is gone or already marked sent."""
    message = await session.get(OutboxMessage, message_id, with_for_update=True)
    return message if message is not None and message.sent_at is None else None


async def record_sent(session: AsyncSession, message_id: int) -> None:
    """Mark the message sent, unless it already is."""
    message = await _unsent(session, message_id)
    if message is None:
        return
    message.attempts += 1
    message.sent_at = utcnow()
    message.last_error = None
    # Handed over after all, e.g. by a sender whose lease had run out: sent is the truth.
    message.failed_at = None
    await session.flush()


async def record_failure(session: AsyncSession, message_id: int, error: str) -> None:
    """Count a failed attempt: retry later with backoff, or give up after the last attempt."""
    message = await _unsent(session, message_id)
    if message is None or message.failed_at is not None:
        return
    settings = get_settings()
    message.attempts += 1
    message.last_error = error[:2000]
    if message.attempts >= settings.outbox_max_attempts:
        message.failed_at = utcnow()
    else:
        message.next_attempt_at = utcnow() + retry_delay(message.attempts)
    await session.flush()


def build_email(message: ClaimedMessage, settings: Settings) -> EmailMessage:
    """The email of a message; raises (e.g. ValueError on a header with CR/LF) if it cannot be."""
    email = EmailMessage()
    email["From"] = settings.mail_from
    email["To"] = ", ".join(message.recipients)
    email["Subject"] = header_value(message.subject)
    email["Message-ID"] = f"<outbox-{message.id}@bridgedesk>"
    email.set_content(message.body)
    for stored in message.attachments:
        attachment = Attachment(
            stored["filename"], stored["content_type"], base64.b64decode(stored["content_b64"])
        )
        maintype, _, subtype = attachment.content_type.partition("/")
        email.add_attachment(
            attachment.content,
            maintype=maintype,
            subtype=subtype,
            filename=header_value(attachment.filename),
        )
    return email


def send_email(message: ClaimedMessage, settings: Settings) -> None:
    _deliver(build_email(message, settings), settings)


def _deliver(email: EmailMessage, settings: Settings) -> None:
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_SECONDS) as smtp:
        if settings.smtp_starttls:
            smtp.starttls()
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password or "")
        smtp.send_message(email)


def send_webhook(message: ClaimedMessage, settings: Settings) -> None:
    """The webhook channel: the message's one recipient is the URL, its body the JSON."""
    webhooks.post_signed(message.recipients[0], message.body, settings)


SENDERS: dict[str, Sender] = {"email": send_email, webhooks.CHANNEL: send_webhook}


def register_sender(channel: str, sender: Sender) -> None:
    """Deliver the messages of `channel` with `sender` (at import of the module that owns it)."""
    SENDERS[channel] = sender


class NoSender(Exception):
    """A message on a channel nobody delivers."""


def _attempt(message: ClaimedMessage, settings: Settings) -> None:
    sender = SENDERS.get(message.channel)
    if sender is None:
        raise NoSender(f"no sender for channel {message.channel!r}")
    sender(message, settings)


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff: 30 s, 1 min, 2 min, ... capped at 1 h."""
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


async def send_due(*, limit: int = 50) -> int:
    """Deliver up to `limit` due messages; returns how many were sent.

    Opens its own short units of work (claim, then one record per message) and holds none
    while a mail server is being talked to, so a slow or unreachable server blocks no one.
    """
    settings = get_settings()
    lease = timedelta(seconds=settings.outbox_lease_seconds)
    claimed = await isolation.in_unit(
        "outbox", lambda session: claim_due(session, lease=lease, limit=limit)
    )
    sent = 0
    for message in claimed:
        if utcnow() + timedelta(seconds=SMTP_TIMEOUT_SECONDS) >= message.lease_until:
            break  # the rest are claimed again once their lease runs out
        try:
            await asyncio.to_thread(_attempt, message, settings)
        except Exception as error:  # building or sending: any failure is a failed attempt
            cause = f"{type(error).__name__}: {error}"
            log.warning(
                "outbox message %s (%s) not delivered: %s", message.id, message.topic, cause
            )
            await isolation.in_unit(
                "outbox", partial(record_failure, message_id=message.id, error=cause)
            )
            continue
        await isolation.in_unit("outbox", partial(record_sent, message_id=message.id))
        sent += 1
    return sent
