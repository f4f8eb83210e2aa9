"""Secrets kept out of logs: a calendar feed key travels in the URL (`?key=`), so every access
log line would otherwise hold a key that reads a customer's calendars for a year."""

import logging
import re

# Query parameters whose value is a credential.
_SECRET_PARAMETER = re.compile(r"([?&](?:key|token|access_token)=)[^&#\s\"']*", re.IGNORECASE)
REDACTED = "[redacted]"
ACCESS_LOGGER = "uvicorn.access"


def redact(text: str) -> str:
    return _SECRET_PARAMETER.sub(lambda m: m.group(1) + REDACTED, text)


class RedactSecrets(logging.Filter):
    """Rewrites a record's message and arguments before any handler formats them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def install_redaction() -> None:
    """On uvicorn's access logger (idempotent; called by every web process's app factory)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, RedactSecrets) for f in logger.filters):
        logger.addFilter(RedactSecrets())
