"""The one source of "now": always timezone-aware UTC, frozen in tests by time-machine."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
