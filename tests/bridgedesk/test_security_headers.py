"""Output safety on pages: the usual security headers, a CSP whose nonce the pages' inline
scripts carry, a CSRF token on the login form, and Secure cookies when asked or on https."""

import re
from collections.abc import Iterator

import httpx
import pytest

from bridgedesk.auth import CSRF_FIELD, SESSION_COOKIE
from bridgedesk.identity import Role
from bridgedesk.pages import LOGIN_CSRF_COOKIE
from bridgedesk.settings import get_settings
from tests.conftest import PASSWORD, page_login

COMMON = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
}


def _policy(response: httpx.Response) -> dict[str, str]:
    parts = [p.strip() for p in response.headers["content-security-policy"].split(";")]
    return {p.split(" ", 1)[0]: p.split(" ", 1)[1] if " " in p else "" for p in parts}


async def test_pages_and_answers_carry_the_security_headers(db, anonymous, client_as):
    api = await client_as(Role.OPERATOR)
    for response in (
        await anonymous.get("/login"),
        await api.get("/api/v1/users/me"),
        await anonymous.get("/api/v1/users/me"),  # errors too
        await anonymous.get("/static/bridgedesk.css"),
    ):
        for name, value in COMMON.items():
            assert response.headers.get(name) == value, (response.request.url, name)
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    page = _policy(await anonymous.get("/login"))
    assert page["default-src"] == "'self'"
    assert page["script-src"].startswith("'self' 'nonce-")
    assert "unsafe-inline" not in page["script-src"]
    assert page["frame-ancestors"] == "'none'" and page["object-src"] == "'none'"
    assert _policy(await api.get("/api/v1/users/me"))["default-src"] == "'none'"


async def test_every_inline_script_carries_the_pages_nonce(db, sign_in, make_user, world):
    """The pages with inline scripts (live legs, a certification test running) still run."""
    operator = await make_user(Role.ADMIN)
    browser = await sign_in(operator)
    for path in ("/live", f"/certification/sites/{world.site_id}"):
        page = await browser.get(path)
        assert page.status_code == 200, (path, page.text[:300])
        nonce = re.search(r"'nonce-([^']+)'", page.headers["content-security-policy"]).group(1)
        for script in re.findall(r"<script\b[^>]*>", page.text):
            assert "src=" in script or f'nonce="{nonce}"' in script, (path, script)
    first = (await browser.get("/live")).headers["content-security-policy"]
    second = (await browser.get("/live")).headers["content-security-policy"]
    assert first != second  # a fresh nonce per answer


async def test_login_without_the_forms_csrf_token_is_refused(db, anonymous, make_user):
    user = await make_user(Role.SCHEDULER)
    data = {"email": user.email, "password": PASSWORD}
    bare = await anonymous.post("/login", data=data)  # as a cross-site form would
    assert bare.status_code == 403 and SESSION_COOKIE not in bare.cookies
    form = await anonymous.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    assert token == anonymous.cookies.get(LOGIN_CSRF_COOKIE, path="/login")
    forged = await anonymous.post("/login", data={**data, CSRF_FIELD: token + "x"})
    assert forged.status_code == 403 and SESSION_COOKIE not in forged.cookies
    anonymous.cookies.clear()  # a token from the page without the cookie is not enough
    stolen = await anonymous.post("/login", data={**data, CSRF_FIELD: token})
    assert stolen.status_code == 403
    signed = await page_login(anonymous, data)
    assert signed.status_code == 303 and SESSION_COOKIE in signed.cookies


@pytest.fixture
def secure_cookies(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("BRIDGEDESK_SECURE_COOKIES", "true")
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


def _set_cookies(response: httpx.Response) -> list[str]:
    return response.headers.get_list("set-cookie")


async def test_cookies_are_secure_when_the_setting_says_so(db, secure_cookies, app, make_user):
    user = await make_user(Role.SCHEDULER)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://testserver"
    ) as client:
        form = await client.get("/login")
        assert all("secure" in c.lower() for c in _set_cookies(form))
        signed = await page_login(client, {"email": user.email, "password": PASSWORD})
        session = [c for c in _set_cookies(signed) if c.startswith(SESSION_COOKIE)]
        assert session and "secure" in session[0].lower()


async def test_cookies_are_secure_on_https_even_unset(db, app, make_user):
    user = await make_user(Role.SCHEDULER)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://testserver"
    ) as client:
        signed = await page_login(client, {"email": user.email, "password": PASSWORD})
        session = [c for c in _set_cookies(signed) if c.startswith(SESSION_COOKIE)]
        assert session and "secure" in session[0].lower()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as plain:
        signed = await page_login(plain, {"email": user.email, "password": PASSWORD})
        session = [c for c in _set_cookies(signed) if c.startswith(SESSION_COOKIE)]
        assert session and "secure" not in session[0].lower()


def test_serve_turns_secure_cookies_on_beyond_loopback():
    from bridgedesk.app.cli import _is_loopback

    assert _is_loopback("127.0.0.1") and _is_loopback("localhost") and _is_loopback("::1")
    assert not _is_loopback("0.0.0.0") and not _is_loopback("10.1.2.3")
