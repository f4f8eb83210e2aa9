"""Certification's rows of the API access table (tests/bridgedesk/test_auth_access.py)."""

import uuid
from typing import Any

import pytest

from bridgedesk.auth import actor_of
from bridgedesk.identity import Role
from bridgedesk.models import User
from certification.service import calls
from tests.access_rules import EVERYONE, PROVIDER, SITE_REGISTRARS, Rule, World
from tests.certification.probes import finish_probe

CERTIFIERS = frozenset({Role.ADMIN, Role.OPERATOR, Role.TECHNICIAN})
UPGRADE_REQUESTERS = frozenset({Role.ADMIN, Role.OPERATOR, Role.TECHNICIAN, Role.SCHEDULER})

ACCESS: dict[tuple[str, str], Rule] = {
    ("GET", "/api/v1/sites/{site_id}/certification"): Rule(EVERYONE, tenant=True),
    ("GET", "/api/v1/sites/{site_id}/history"): Rule(EVERYONE, tenant=True),
    ("PATCH", "/api/v1/sites/{site_id}"): Rule(SITE_REGISTRARS, tenant=True),
    ("POST", "/api/v1/sites/{site_id}/certification/tests"): Rule(CERTIFIERS, tenant=True),
    ("POST", "/api/v1/sites/{site_id}/certification/sign-off"): Rule(CERTIFIERS, tenant=True),
    ("POST", "/api/v1/sites/{site_id}/upgrade"): Rule(UPGRADE_REQUESTERS, tenant=True),
    ("GET", "/api/v1/certification/queue"): Rule(CERTIFIERS),
    ("GET", "/api/v1/certification/stats"): Rule(PROVIDER),
    ("POST", "/api/v1/sites/import"): Rule(CERTIFIERS, tenant=True),
}


async def prepare(world: World, request: pytest.FixtureRequest) -> None:
    """World's site A gets a passing test call, so that signing it off is a valid request."""
    db = request.getfixturevalue("db")
    test = await calls.request_test(db, world.site_id, by=actor_of(world.admin))
    await finish_probe(db, test.probe_id)


def request_for(route: tuple[str, str], world: World, caller: User | None) -> dict[str, Any]:
    """A well-formed request for one of this package's routes."""
    if route == ("PATCH", "/api/v1/sites/{site_id}"):
        return {"json": {"audio_uri": "sip:+15550100@10.0.0.8"}}
    if route == ("POST", "/api/v1/sites/{site_id}/upgrade"):
        return {"json": {"note": "new camera"}}
    if route == ("GET", "/api/v1/certification/stats"):
        return {"params": {"month": "2026-11"}}
    if route == ("POST", "/api/v1/sites/import"):
        name = f"Imported {uuid.uuid4().hex[:8]}"
        return {
            "params": {"customer_id": world.customer_id},
            "headers": {"Content-Type": "text/csv"},
            "content": (
                "name,kind,timezone,sip_uri,max_speed_kbps,billing_zone,contact_name\n"
                f"{name},external,UTC,sip:imported@127.0.0.1,768,EU,Ines\n"
            ).encode(),
        }
    return {}
