"""Signing in: bearer tokens for the API, session cookies with CSRF for pages, expiry, sign-out."""

import re
from datetime import timedelta

import time_machine
from sqlalchemy import func, select

from bridgedesk.app.jobs import delete_expired_tokens_job
from bridgedesk.auth import CSRF_FIELD, CSRF_HEADER, SESSION_COOKIE
from bridgedesk.clock import utcnow
from bridgedesk.identity import Role
from bridgedesk.models import AuthToken
from bridgedesk.settings import get_settings
from reservations.models import Customer
from tests.conftest import PASSWORD, page_login


async def test_token_is_issued_for_the_right_password_and_works(anonymous, make_user):
    user = await make_user(Role.OPERATOR)
    response = await anonymous.post(
        "/api/v1/auth/token", json={"email": user.email, "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    assert len(body["access_token"]) >= 32
    me = await anonymous.get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.status_code == 200
    assert me.json()["email"] == user.email and me.json()["role"] == "operator"


async def test_email_is_matched_without_regard_to_case_or_spaces(anonymous, make_user):
    user = await make_user(Role.SCHEDULER)
    response = await anonymous.post(
        "/api/v1/auth/token", json={"email": f"  {user.email.upper()} ", "password": PASSWORD}
    )
    assert response.status_code == 200, response.text


async def test_wrong_password_unknown_email_and_inactive_user_are_401(db, anonymous, make_user):
    user = await make_user(Role.OPERATOR)
    retired = await make_user(Role.OPERATOR, active=False)
    tokens_before = await db.scalar(select(func.count(AuthToken.id)))
    for email, password in [
        (user.email, PASSWORD + "!"),
        ("nobody@example.com", PASSWORD),
        (retired.email, PASSWORD),
    ]:
        response = await anonymous.post(
            "/api/v1/auth/token", json={"email": email, "password": password}
        )
        assert response.status_code == 401, (email, response.text)
        assert response.json()["detail"]
        assert "access_token" not in response.json()
    assert await db.scalar(select(func.count(AuthToken.id))) == tokens_before


async def test_missing_malformed_and_unknown_tokens_are_401(anonymous):
    for headers in [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer not-a-real-token"},
    ]:
        response = await anonymous.get("/api/v1/users/me", headers=headers)
        assert response.status_code == 401, headers
        assert response.json()["detail"]
        assert response.headers.get("www-authenticate", "").lower().startswith("bearer")


async def test_token_expires(db, client_as):
    issued = utcnow()
    with time_machine.travel(issued, tick=False):
        api = await client_as(Role.OPERATOR)
    hours = get_settings().token_hours
    with time_machine.travel(issued + timedelta(hours=hours) - timedelta(minutes=1), tick=False):
        assert (await api.get("/api/v1/users/me")).status_code == 200
    with time_machine.travel(issued + timedelta(hours=hours, minutes=1), tick=False):
        response = await api.get("/api/v1/users/me")
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


async def test_expired_tokens_are_deleted_by_the_job_and_live_ones_kept(db, client_as):
    issued = utcnow()
    with time_machine.travel(issued, tick=False):
        await client_as(Role.OPERATOR)
    with time_machine.travel(issued + timedelta(hours=1), tick=False):
        fresh = await client_as(Role.SCHEDULER)
    hours = get_settings().token_hours
    with time_machine.travel(issued + timedelta(hours=hours, minutes=1), tick=False):
        assert await delete_expired_tokens_job() == 1
        assert await delete_expired_tokens_job() == 0
        assert (await fresh.get("/api/v1/users/me")).status_code == 200
    assert await db.scalar(select(func.count(AuthToken.id))) == 1


async def test_a_page_session_is_not_a_bearer_token(anonymous, make_user):
    user = await make_user(Role.OPERATOR)
    login = await page_login(anonymous, {"email": user.email, "password": PASSWORD})
    secret = login.cookies[SESSION_COOKIE]
    anonymous.cookies.clear()
    response = await anonymous.get(
        "/api/v1/users/me", headers={"Authorization": f"Bearer {secret}"}
    )
    assert response.status_code == 401


async def test_login_form_sets_a_session_cookie_and_writes_need_csrf(db, anonymous, make_user):
    admin = await make_user(Role.ADMIN)
    form = await anonymous.get("/login")
    assert form.status_code == 200 and 'name="password"' in form.text
    response = await page_login(
        anonymous, {"email": admin.email, "password": PASSWORD, "next": "/somewhere"}
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/somewhere"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    # Reads need only the cookie.
    me = await anonymous.get("/api/v1/users/me")
    assert me.status_code == 200 and me.json()["email"] == admin.email

    csrf = await db.scalar(
        select(AuthToken.csrf_token).where(AuthToken.user_id == admin.id, AuthToken.kind == "page")
    )
    assert csrf
    customers_before = await db.scalar(select(func.count(Customer.id)))
    body = {"name": "Cookie Customer", "timezone": "Europe/Paris"}
    # A write without the CSRF token is refused and changes nothing.
    refused = await anonymous.post("/api/v1/customers", json=body)
    assert refused.status_code == 403
    assert refused.json()["detail"]
    wrong = await anonymous.post("/api/v1/customers", json=body, headers={CSRF_HEADER: "guess"})
    assert wrong.status_code == 403
    assert await db.scalar(select(func.count(Customer.id))) == customers_before
    # With it (as a header), the write goes through.
    accepted = await anonymous.post("/api/v1/customers", json=body, headers={CSRF_HEADER: csrf})
    assert accepted.status_code == 201, accepted.text
    assert await db.scalar(select(func.count(Customer.id))) == customers_before + 1


async def test_csrf_token_is_accepted_as_a_form_field(db, anonymous, make_user):
    scheduler = await make_user(Role.SCHEDULER)
    await page_login(anonymous, {"email": scheduler.email, "password": PASSWORD})
    csrf = await db.scalar(
        select(AuthToken.csrf_token).where(
            AuthToken.user_id == scheduler.id, AuthToken.kind == "page"
        )
    )
    # A form post reaching an API route: the field is read, so the answer is not a 403
    # (the JSON route then refuses the form body itself with 422).
    with_field = await anonymous.post("/api/v1/conferences", data={CSRF_FIELD: csrf, "title": "x"})
    assert with_field.status_code == 422, with_field.text
    without = await anonymous.post("/api/v1/conferences", data={"title": "x"})
    assert without.status_code == 403


async def test_wrong_password_on_the_form_sets_no_cookie(anonymous, make_user):
    user = await make_user(Role.SCHEDULER)
    response = await page_login(anonymous, {"email": user.email, "password": "nope"})
    assert response.status_code == 401
    assert SESSION_COOKIE not in response.cookies
    assert re.search(r"wrong password", response.text, re.I)
    assert (await anonymous.get("/api/v1/users/me")).status_code == 401


async def test_next_never_leaves_the_site(anonymous, make_user):
    user = await make_user(Role.SCHEDULER)
    response = await page_login(
        anonymous, {"email": user.email, "password": PASSWORD, "next": "//evil.example/phish"}
    )
    assert response.status_code == 303
    assert response.headers["location"].startswith("/")
    assert not response.headers["location"].startswith("//")
    backslash = await page_login(
        anonymous, {"email": user.email, "password": PASSWORD, "next": "/\\evil.example/phish"}
    )
    assert backslash.headers["location"] != "/\\evil.example/phish"
    assert "evil" not in backslash.headers["location"]


async def test_logout_revokes_the_session(db, anonymous, make_user):
    user = await make_user(Role.OPERATOR)
    await page_login(anonymous, {"email": user.email, "password": PASSWORD})
    secret = anonymous.cookies[SESSION_COOKIE]
    assert (await anonymous.get("/api/v1/users/me")).status_code == 200
    assert (await anonymous.post("/logout")).status_code == 403  # no CSRF token: refused
    assert (await anonymous.get("/api/v1/users/me")).status_code == 200
    page = (await anonymous.get("/conferences/mine")).text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = await anonymous.post("/logout", data={"csrf_token": csrf})
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    assert await db.scalar(select(func.count(AuthToken.id)).where(AuthToken.kind == "page")) == 0
    # Even a client that kept the cookie is signed out: the session is gone server-side.
    anonymous.cookies.set(SESSION_COOKIE, secret)
    assert (await anonymous.get("/api/v1/users/me")).status_code == 401
