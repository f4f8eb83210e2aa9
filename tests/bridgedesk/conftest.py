"""The world every route of the access table is tried in (test_auth_access, test_asgi)."""

from datetime import timedelta

import pytest

from bridgedesk.clock import utcnow
from bridgedesk.identity import Role
from tests.access_packages import PACKAGES
from tests.access_rules import World
from tests.payloads import series_body


@pytest.fixture
async def world(request, db, make_customer, make_site, make_user, client_as) -> World:
    customer = await make_customer(timezone="Pacific/Kiritimati")
    site = await make_site(customer=customer)
    spare = await make_site(customer=customer)
    booker = await client_as(Role.SCHEDULER, customer_id=customer.id)
    start = (utcnow() + timedelta(days=3)).replace(microsecond=0)
    response = await booker.post(
        "/api/v1/conferences",
        json=series_body(customer.id, [site.id], start, "FREQ=WEEKLY;COUNT=2"),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    made = World(
        customer_id=customer.id,
        site_id=site.id,
        spare_site_id=spare.id,
        conference_id=body["id"],
        series_id=body["series_id"],
        admin=await make_user(Role.ADMIN),
    )
    # A user for the admin routes that act on one (deactivate, activate).
    made.ids["user_id"] = (await make_user(Role.BILLING, customer_id=customer.id)).id
    # A feed key id for DELETE /api/v1/auth/feed-keys/{key_id} (revoking is idempotent).
    made.ids["key_id"] = 1
    for package in PACKAGES:
        await package.prepare(made, request)
    return made
