"""Fixtures for the certification tests."""

import pytest

from bridgedesk.settings import get_settings


@pytest.fixture(autouse=True)
def long_lived_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests travel days ahead in time; their API tokens must outlive the journey."""
    monkeypatch.setattr(get_settings(), "token_hours", 24 * 365 * 5)
