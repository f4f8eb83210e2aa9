"""Fixtures for the certification tests."""

import pytest

from bridgedesk.settings import get_settings


@pytest.fixture(autouse=True)
def long_lived_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests travel days ahead in time; their API tokens must outlive the journey (also
    through fixtures that rebuild the settings from the environment, like `smtp`)."""
    monkeypatch.setenv("BRIDGEDESK_TOKEN_HOURS", str(24 * 365 * 5))
    monkeypatch.setattr(get_settings(), "token_hours", 24 * 365 * 5)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """Certification's rules must hold on the embedded default and on production's database."""
    return str(request.param)
