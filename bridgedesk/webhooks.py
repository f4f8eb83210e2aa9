"""The outbox's webhook channel: JSON posted to a URL, signed with the shared secret.

A webhook is queued in the caller's transaction like an email (same table, channel
"webhook", the URL as its one recipient, the JSON as its body) and sent by the same sender
with the same retries: any answer other than 2xx counts as a failed attempt.
"""

import hashlib
import hmac
import http.client
import json
import urllib.request
from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bridgedesk.clock import utcnow
from bridgedesk.models import OutboxMessage
from bridgedesk.settings import Settings

CHANNEL = "webhook"
SIGNATURE_HEADER = "X-Bridgedesk-Signature"
# Per attempt; the sender's lease (at least 60 s) outlasts it.
TIMEOUT_SECONDS = 10


def signature(body: bytes, secret: str) -> str:
    """`sha256=<hex>`: HMAC-SHA256 of the exact body bytes with the shared secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(body: bytes, header: str | None, secret: str) -> bool:
    """What a receiver does: recompute the signature and compare in constant time."""
    return header is not None and hmac.compare_digest(signature(body, secret), header)


async def enqueue_webhook(
    session: AsyncSession,
    *,
    topic: str,
    url: str,
    payload: Mapping[str, object],
    dedupe_key: str | None = None,
) -> OutboxMessage | None:
    """Queue a POST of `payload` to `url` in the caller's transaction; with `dedupe_key`, at
    most once ever."""
    if dedupe_key is not None:
        existing = await session.scalar(
            select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key)
        )
        if existing is not None:
            return None
    now = utcnow()
    message = OutboxMessage(
        channel=CHANNEL,
        topic=topic,
        dedupe_key=dedupe_key,
        recipients=[url],
        subject=topic,
        body=json.dumps(payload, sort_keys=True, default=str),
        attachments=[],
        created_at=now,
        next_attempt_at=now,
        attempts=0,
    )
    session.add(message)
    await session.flush()
    return message


def post_signed(url: str, body: str, settings: Settings) -> None:
    """One delivery attempt (blocking; the sender runs it in a thread). Raises OSError (or
    urllib's HTTPError, one of them) unless the receiver answers 2xx."""
    data = body.encode()
    headers = {"Content-Type": "application/json", "User-Agent": "bridgedesk-outbox"}
    if settings.webhook_secret:
        headers[SIGNATURE_HEADER] = signature(data, settings.webhook_secret)
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:
            status = answer.status
    except http.client.HTTPException as error:  # a garbled answer: a failed attempt too
        raise OSError(f"webhook answer unreadable: {error!r}") from error
    if not 200 <= status < 300:
        raise OSError(f"webhook answered {status}")
