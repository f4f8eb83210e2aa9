"""Signing in and out of the web pages, and the static files they share."""

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from bridgedesk.auth import (
    SESSION_COOKIE,
    BadCredentials,
    CurrentActor,
    authenticate,
    issue_token,
    revoke,
)
from bridgedesk.db import Db
from bridgedesk.identity import Role
from bridgedesk.settings import get_settings
from bridgedesk.web import render

router = APIRouter(include_in_schema=False)
STATIC = Path(__file__).parent / "static"

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


@router.get("/login")
async def login_form(request: Request, next: str | None = None) -> Response:
    return render(request, "bridgedesk/login.html", {"next": _safe_next(next) or "", "error": None})


@router.post("/login")
async def login(
    request: Request,
    db: Db,
    email: Annotated[str, Form(max_length=254)],
    password: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    try:
        user = await authenticate(db, email, password)
    except BadCredentials as error:
        return render(
            request,
            "bridgedesk/login.html",
            {"next": _safe_next(next) or "", "error": error.detail, "email": email},
            status_code=401,
        )
    secret, _ = await issue_token(db, user, kind="page")
    target = _safe_next(next) or HOME_BY_ROLE.get(Role(user.role), "/day")
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        httponly=True,
        samesite="lax",
        secure=get_settings().secure_cookies,
        max_age=get_settings().token_hours * 3600,
    )
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
