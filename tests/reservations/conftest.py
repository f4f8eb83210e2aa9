import pytest


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """Reservation rules must hold on the embedded default and on production's database."""
    return str(request.param)
