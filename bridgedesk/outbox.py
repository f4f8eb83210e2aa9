"""The transactional outbox: notifications written with the change, sent after commit with retries.

A message is committed together with the change it reports, so a crash never loses one; the
sender holds each row's lock while it delivers, so two senders never deliver the same row.
Delivery is at-least-once: a crash between the SMTP handover and the commit resends.
"""

import asyncio
import base64
import smtplib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bridgedesk.clock import utcnow
from bridgedesk.models import OutboxMessage
from bridgedesk.settings import Settings, get_settings
from bridgedesk.templating import render_email


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
        subject=subject,
        body=body,
        attachments=[
            {
                "filename": a.filename,
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


def build_email(message: OutboxMessage, settings: Settings) -> EmailMessage:
    email = EmailMessage()
    email["From"] = settings.mail_from
    email["To"] = ", ".join(message.recipients)
    email["Subject"] = message.subject
    email["Message-ID"] = f"<outbox-{message.id}@bridgedesk>"
    email.set_content(message.body)
    for attachment in message.attachments:
        maintype, _, subtype = attachment["content_type"].partition("/")
        email.add_attachment(
            base64.b64decode(attachment["content_b64"]),
            maintype=maintype,
            subtype=subtype,
            filename=attachment["filename"],
        )
    return email


def _deliver(email: EmailMessage, settings: Settings) -> None:
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=30) as smtp:
        if settings.smtp_starttls:
            smtp.starttls()
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password or "")
        smtp.send_message(email)


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff: 30 s, 1 min, 2 min, ... capped at 1 h."""
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


async def send_due(session: AsyncSession, *, limit: int = 50) -> int:
    """Deliver messages that are due; returns how many were sent. Caller owns the transaction."""
    settings = get_settings()
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
            .with_for_update(skip_locked=True)
        )
    ).all()
    sent = 0
    for message in due:
        try:
            await asyncio.to_thread(_deliver, build_email(message, settings), settings)
        except (OSError, smtplib.SMTPException) as error:
            message.attempts += 1
            message.last_error = f"{type(error).__name__}: {error}"[:2000]
            if message.attempts >= settings.outbox_max_attempts:
                message.failed_at = utcnow()
            else:
                message.next_attempt_at = utcnow() + retry_delay(message.attempts)
            continue
        message.attempts += 1
        message.sent_at = utcnow()
        message.last_error = None
        sent += 1
    await session.flush()
    return sent
