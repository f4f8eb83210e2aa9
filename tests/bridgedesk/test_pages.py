"""Signing in takes each role to the page its work starts from, and that page serves it."""

import pytest

from bridgedesk.identity import Role
from tests.conftest import PASSWORD, page_login

HOMES = {
    Role.SCHEDULER: "/conferences/mine",
    Role.OPERATOR: "/confirmations",
    Role.ADMIN: "/confirmations",
    Role.TECHNICIAN: "/certification",
    Role.FINANCE: "/billing",
    Role.BILLING: "/billing",
}


@pytest.mark.parametrize("role", list(Role), ids=str)
async def test_each_role_lands_on_its_own_work(db, make_user, anonymous, role):
    user = await make_user(role)
    response = await page_login(anonymous, {"email": user.email, "password": PASSWORD})
    assert response.status_code == 303
    assert response.headers["location"] == HOMES[role]
    home = await anonymous.get(HOMES[role])
    assert home.status_code == 200, home.text
