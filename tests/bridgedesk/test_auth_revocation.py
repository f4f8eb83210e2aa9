"""Revocation: sign-out kills the bearer token it is made with, feed keys are listed, rotated
and revoked by their owner, and a deactivated user keeps no token, key or session."""

import re

from sqlalchemy import func, select

from bridgedesk.auth import SESSION_COOKIE
from bridgedesk.identity import Role
from bridgedesk.models import AuthToken
from tests.conftest import PASSWORD, page_login


async def test_a_token_after_logout_is_401_and_other_tokens_live_on(db, client_as, make_user):
    user = await make_user(Role.SCHEDULER)
    first = await client_as(user)
    second = await client_as(user)
    assert (await first.get("/api/v1/users/me")).status_code == 200
    out = await first.post("/api/v1/auth/logout")
    assert out.status_code == 204, out.text
    assert (await first.get("/api/v1/users/me")).status_code == 401
    assert (await first.post("/api/v1/auth/logout")).status_code == 401
    # Only the token used is revoked: the user's other session goes on.
    assert (await second.get("/api/v1/users/me")).status_code == 200


async def _feed(anonymous, customer_id: int, key: str) -> int:
    response = await anonymous.get(
        f"/api/v1/customers/{customer_id}/calendar.ics", params={"key": key}
    )
    return response.status_code


async def test_feed_keys_rotate_list_and_revoke(db, make_customer, client_as, anonymous):
    customer = await make_customer()
    api = await client_as(Role.SCHEDULER, customer_id=customer.id)
    first = (await api.post("/api/v1/auth/feed-keys")).json()
    assert await _feed(anonymous, customer.id, first["key"]) == 200

    # Issuing again rotates: one live key per user unless asked for more.
    second = await api.post("/api/v1/auth/feed-keys")
    assert second.status_code == 201 and second.json()["revoked"] == 1
    assert await _feed(anonymous, customer.id, first["key"]) == 401
    assert await _feed(anonymous, customer.id, second.json()["key"]) == 200
    # The first form of the route rotates too.
    legacy = await api.post("/api/v1/auth/feed-key")
    assert legacy.status_code == 201 and legacy.json()["revoked"] == 1
    assert await _feed(anonymous, customer.id, second.json()["key"]) == 401

    extra = await api.post("/api/v1/auth/feed-keys", json={"keep_others": True})
    assert extra.json()["revoked"] == 0
    listed = (await api.get("/api/v1/auth/feed-keys")).json()["items"]
    assert {k["id"] for k in listed} == {legacy.json()["id"], extra.json()["id"]}
    assert all("key" not in k for k in listed)  # a secret is shown once, never listed

    gone = await api.delete(f"/api/v1/auth/feed-keys/{extra.json()['id']}")
    assert gone.status_code == 204
    assert await _feed(anonymous, customer.id, extra.json()["key"]) == 401
    assert await _feed(anonymous, customer.id, legacy.json()["key"]) == 200
    listed = (await api.get("/api/v1/auth/feed-keys")).json()["items"]
    assert [k["id"] for k in listed] == [legacy.json()["id"]]


async def test_nobody_revokes_another_users_feed_key(db, make_customer, client_as, anonymous):
    customer = await make_customer()
    owner = await client_as(Role.SCHEDULER, customer_id=customer.id)
    key = (await owner.post("/api/v1/auth/feed-keys")).json()
    colleague = await client_as(Role.SCHEDULER, customer_id=customer.id)
    admin = await client_as(Role.ADMIN)
    for other in (colleague, admin):
        assert (await other.delete(f"/api/v1/auth/feed-keys/{key['id']}")).status_code == 204
        assert key["id"] not in [
            k["id"] for k in (await other.get("/api/v1/auth/feed-keys")).json()["items"]
        ]
    assert await _feed(anonymous, customer.id, key["key"]) == 200


async def test_a_deactivated_users_tokens_keys_and_sessions_all_die(
    db, make_customer, make_user, client_as, anonymous, sign_in
):
    customer = await make_customer()
    user = await make_user(Role.SCHEDULER, customer_id=customer.id)
    api = await client_as(user)
    key = (await api.post("/api/v1/auth/feed-keys")).json()["key"]
    browser = await sign_in(user)
    assert (await browser.get("/conferences/mine")).status_code == 200
    admin = await client_as(Role.ADMIN)

    # Only admins deactivate; a scheduler of the same customer may not.
    colleague = await client_as(Role.SCHEDULER, customer_id=customer.id)
    refused = await colleague.post(f"/api/v1/users/{user.id}/deactivate")
    assert refused.status_code == 403
    assert (await api.get("/api/v1/users/me")).status_code == 200

    done = await admin.post(f"/api/v1/users/{user.id}/deactivate")
    assert done.status_code == 200 and done.json()["active"] is False
    assert (await api.get("/api/v1/users/me")).status_code == 401
    assert await _feed(anonymous, customer.id, key) == 401
    page = await browser.get("/conferences/mine")
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    count = select(func.count(AuthToken.id)).where(AuthToken.user_id == user.id)
    assert await db.scalar(count) == 0
    # Sign-in is refused, on the API and on the page.
    token = await anonymous.post(
        "/api/v1/auth/token", json={"email": user.email, "password": PASSWORD}
    )
    assert token.status_code == 401
    form = await page_login(anonymous, {"email": user.email, "password": PASSWORD})
    assert form.status_code == 401 and SESSION_COOKIE not in form.cookies
    assert re.search(r"wrong password", form.text, re.I)

    # Activated again, the user signs in afresh (the old secrets stay dead).
    assert (await admin.post(f"/api/v1/users/{user.id}/activate")).json()["active"] is True
    assert (await api.get("/api/v1/users/me")).status_code == 401
    again = await anonymous.post(
        "/api/v1/auth/token", json={"email": user.email, "password": PASSWORD}
    )
    assert again.status_code == 200


async def test_an_admin_cannot_deactivate_themselves(db, client_as):
    admin = await client_as(Role.ADMIN)
    response = await admin.post(f"/api/v1/users/{admin.user.id}/deactivate")
    assert response.status_code == 409
    assert (await admin.get("/api/v1/users/me")).status_code == 200
