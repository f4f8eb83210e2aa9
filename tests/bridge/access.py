"""The bridge package's rows of the API access table (tests/bridgedesk/test_access.py)."""

from typing import Any

import pytest

from bridgedesk.models import User
from tests.access_rules import Rule, World

ACCESS: dict[tuple[str, str], Rule] = {}


async def prepare(world: World, request: pytest.FixtureRequest) -> None:
    """Create the records this package's routes name and put their ids in `world.ids`."""


def request_for(route: tuple[str, str], world: World, caller: User | None) -> dict[str, Any]:
    """A well-formed request for one of this package's routes."""
    return {}
