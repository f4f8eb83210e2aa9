"""Fixtures for the reservations tests: both databases, and a customer in New York."""

import pytest

from reservations.models import Customer
from tests.conftest import Factory


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """Reservation rules must hold on the embedded default and on production's database."""
    return str(request.param)


@pytest.fixture
async def new_york(make_customer: Factory) -> Customer:
    """A customer in New York: its pages show times in Eastern time (EST or EDT)."""
    customer: Customer = await make_customer(timezone="America/New_York")
    return customer
