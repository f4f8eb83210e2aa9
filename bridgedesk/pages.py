"""Signing in and out of the web pages, and the static files they share.

The login form has its own CSRF token before any session exists (a double-submit cookie):
another site cannot sign a browser in to an account of its choosing.
"""

import secrets
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from bridgedesk.auth import (
    CSRF_FIELD,
    SESSION_COOKIE,
    BadCredentials,
    CurrentActor,
    authenticate,
    issue_token,
    revoke,
)
from bridgedesk.db import Db
from bridgedesk.identity import Role
from bridgedesk.web import cookies_secure, render, set_session_cookie

router = APIRouter(include_in_schema=False)
STATIC = Path(__file__).parent / "static"
LOGIN_CSRF_COOKIE = "bridgedesk_login_csrf"

# Where each role lands after signing in.
HOME_BY_ROLE = {
    Role.SCHEDULER: "/conferences/mine",
    Role.OPERATOR: "/confirmations",
    Role.ADMIN: "/confirmations",
    Role.TECHNICIAN: "/certification",
    Role.FINANCE: "/billing",
    Role.BILLING: "/billing",
}


def mount_static(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=STATIC), name="static")


def _safe_next(target: str | None) -> str | None:
    """Only same-site paths: never redirect a signed-in user to another host."""
    # Browsers read a backslash like a slash ("/\\host" is "//host"), so refuse any.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


def _login_page(
    request: Request,
    *,
    next: str | None,
    error: str | None = None,
    email: str = "",
    status_code: int = 200,
) -> Response:
    """The form with a fresh CSRF token, in the page and in a cookie only this site sets."""
    token = secrets.token_urlsafe(24)
    response = render(
        request,
        "bridgedesk/login.html",
        {"next": _safe_next(next) or "", "error": error, "email": email, "login_csrf": token},
        status_code=status_code,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=cookies_secure(request),
        path="/login",
    )
    return response


@router.get("/login")
async def login_form(request: Request, next: str | None = None) -> Response:
    return _login_page(request, next=next)


@router.post("/login")
async def login(
    request: Request,
    db: Db,
    email: Annotated[str, Form(max_length=254)],
    password: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form(max_length=500)] = "",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD, max_length=100)] = "",
) -> Response:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not secrets.compare_digest(csrf_token, expected):
        return _login_page(
            request,
            next=next,
            email=email,
            error="The sign-in form had expired or came from another site; sign in again.",
            status_code=403,
        )
    address = request.client.host if request.client else None
    try:
        user = await authenticate(db, email, password, address=address)
    except BadCredentials as error:
        return _login_page(request, next=next, error=error.detail, email=email, status_code=401)
    secret, _ = await issue_token(db, user, kind="page")
    target = _safe_next(next) or HOME_BY_ROLE.get(Role(user.role), "/day")
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, request, secret)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
async def logout(request: Request, db: Db, actor: CurrentActor) -> Response:
    """Signing out is a write like any other: it needs the form's CSRF token (checked by
    `current_actor`), so no other site can sign a user out."""
    secret = request.cookies.get(SESSION_COOKIE)
    if secret:
        await revoke(db, secret)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/")
async def home() -> Response:
    return RedirectResponse("/day", status_code=303)
