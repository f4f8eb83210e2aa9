"""Adding users over the API: bad input is a 4xx with a detail and adds nobody."""

import pytest
from sqlalchemy import func, select

from bridgedesk.identity import Role
from bridgedesk.models import User
from tests.conftest import PASSWORD

GOOD = {"email": "new.person@example.com", "name": "New Person", "password": "long-enough-pw"}

BAD_USERS = {
    "customer role without a customer": {"role": "scheduler"},
    "provider role with a customer": {"role": "operator", "customer_id": "__customer__"},
    "unknown customer": {"role": "billing", "customer_id": 987654321},
    "customer id beyond 64 bits": {"role": "billing", "customer_id": 2**70},
    "unknown role": {"role": "superuser"},
    "short password": {"role": "finance", "password": "short"},
    "not an email": {"role": "finance", "email": "new.person"},
    "oversized name": {"role": "finance", "name": "n" * 201},
    "taken email": {"role": "finance", "email": "__taken__"},
    "unknown field": {"role": "finance", "is_superuser": True},
}


@pytest.mark.parametrize("case", BAD_USERS)
async def test_bad_user_is_refused_and_adds_nobody(db, client_as, make_customer, case):
    admin = await client_as(Role.ADMIN)
    customer = await make_customer()
    body = {**GOOD, **BAD_USERS[case]}
    if body.get("customer_id") == "__customer__":
        body["customer_id"] = customer.id
    if body["email"] == "__taken__":
        body["email"] = admin.user.email.upper()  # type: ignore[attr-defined]
    before = await db.scalar(select(func.count(User.id)))
    response = await admin.post("/api/v1/users", json=body)
    assert 400 <= response.status_code < 500, response.text
    assert response.status_code not in (401, 403)
    assert response.json()["detail"]
    assert await db.scalar(select(func.count(User.id))) == before


async def test_an_added_user_can_sign_in(db, client_as, make_customer, anonymous):
    admin = await client_as(Role.ADMIN)
    customer = await make_customer()
    response = await admin.post(
        "/api/v1/users",
        json={
            **GOOD,
            "email": "  Mixed.Case@Example.com",
            "role": "billing",
            "customer_id": customer.id,
        },
    )
    assert response.status_code == 201, response.text
    assert response.json() == {
        "id": response.json()["id"],
        "email": "mixed.case@example.com",
        "name": "New Person",
        "role": "billing",
        "customer_id": customer.id,
        "active": True,
    }
    token = await anonymous.post(
        "/api/v1/auth/token", json={"email": "mixed.case@example.com", "password": GOOD["password"]}
    )
    assert token.status_code == 200, token.text


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
@pytest.mark.parametrize(
    "email, password",
    [("ops\x00@example.com", PASSWORD), ("x" * 300 + "@example.com", PASSWORD), ("a@b.c", "")],
    ids=["NUL in the email", "oversized email", "empty password"],
)
async def test_malformed_credentials_are_refused_without_a_500(anonymous, email, password):
    response = await anonymous.post(
        "/api/v1/auth/token", json={"email": email, "password": password}
    )
    assert response.status_code in (401, 422), response.text
    assert response.json()["detail"]
