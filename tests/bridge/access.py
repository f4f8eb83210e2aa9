"""The bridge package's rows of the API access table (tests/bridgedesk/test_auth_access.py)."""

from typing import Any

import pytest

from bridgedesk.identity import Role
from bridgedesk.models import User
from tests.access_rules import EVERYONE, STAFF, Rule, World

PROBE_RUNNERS = frozenset({Role.ADMIN, Role.OPERATOR, Role.TECHNICIAN})

ACCESS: dict[tuple[str, str], Rule] = {
    # -- probe rows --
    ("POST", "/api/v1/probes"): Rule(PROBE_RUNNERS),
    ("GET", "/api/v1/probes/{probe_id}"): Rule(PROBE_RUNNERS),
    ("POST", "/api/v1/probes/{probe_id}/cause"): Rule(STAFF),
    # -- leg and call record rows --
    ("GET", "/api/v1/conferences/{conference_id}/legs"): Rule(EVERYONE, tenant=True),
    ("GET", "/api/v1/cdrs"): Rule(EVERYONE),
    ("POST", "/api/v1/cdrs"): Rule(STAFF),
    # -- the problem-call procedure: the desk staff who work running calls --
    ("GET", "/api/v1/incidents/{incident_id}/procedure"): Rule(PROBE_RUNNERS),
    ("POST", "/api/v1/incidents/{incident_id}/procedure/steps/{position}/attempts"): Rule(
        PROBE_RUNNERS
    ),
}


async def prepare(world: World, request: pytest.FixtureRequest) -> None:
    """Create the records this package's routes name and put their ids in `world.ids`."""
    # -- probe records: a finished probe (the engine's result row written directly) --
    from tests.bridge.probe_rows import finished_probe

    world.ids["probe_id"] = await finished_probe(request.getfixturevalue("db"))
    from tests.bridge.calls import held_conference, incident_with_procedure

    # -- an incident past its window, its procedure open --
    world.ids["incident_id"] = await incident_with_procedure(
        request.getfixturevalue("db"), world.conference_id, world.site_id
    )
    world.ids["position"] = 1
    # -- call records: a conference of A held yesterday, for importing its records --
    world.recorded_number = await held_conference(  # type: ignore[attr-defined]
        request.getfixturevalue("db"), world.admin, world.customer_id, world.site_id
    )


def request_for(route: tuple[str, str], world: World, caller: User | None) -> dict[str, Any]:
    """A well-formed request for one of this package's routes."""
    if route == ("POST", "/api/v1/probes"):
        return {"json": {"sip_uri": "sip:room@127.0.0.1:5999", "method": "OPTIONS"}}
    if route == ("POST", "/api/v1/probes/{probe_id}/cause"):
        return {"json": {"cause": "client_hardware", "note": "site powered off"}}
    if route == ("POST", "/api/v1/cdrs"):
        from tests.bridge.calls import yesterday_record

        return {"json": {"records": [yesterday_record(world.recorded_number, world.site_id)]}}  # type: ignore[attr-defined]
    if route[1] == "/api/v1/incidents/{incident_id}/procedure/steps/{position}/attempts":
        return {"json": {"outcome": "no_answer"}}
    return {}
