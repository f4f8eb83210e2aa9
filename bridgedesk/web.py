"""Rendering pages: the shared layout context (who is signed in, CSRF token) and error pages."""

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from bridgedesk.auth import SESSION_COOKIE
from bridgedesk.identity import Actor
from bridgedesk.security_headers import CSP_NONCE
from bridgedesk.settings import get_settings
from bridgedesk.templating import environment


def cookies_secure(request: Request) -> bool:
    """Cookies are `Secure` when the setting says so, and always on a request made over
    https (`bridgedesk serve` sets the setting from the address it listens on)."""
    return bool(get_settings().secure_cookies) or request.url.scheme == "https"


def set_session_cookie(response: Response, request: Request, secret: str) -> None:
    """The browser's page session: the token's secret, unreadable by scripts, sent on
    same-site navigation, living as long as the token does."""
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        httponly=True,
        samesite="lax",
        secure=cookies_secure(request),
        max_age=get_settings().token_hours * 3600,
    )


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    actor: Actor | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    page = environment.get_template(template).render(
        request=request,
        actor=actor,
        csrf_token=getattr(request.state, "csrf_token", ""),
        # Set for operators and admins (auth.current_actor): the base template's banner.
        worker=getattr(request.state, "worker", None),
        csp_nonce=getattr(request.state, CSP_NONCE, ""),
        **(context or {}),
    )
    return HTMLResponse(page, status_code=status_code)


def render_error(
    request: Request,
    status_code: int,
    detail: str,
    data: dict[str, Any],
    *,
    actor: Actor | None = None,
) -> HTMLResponse:
    """The error page; given the signed-in actor, it keeps the navigation bar."""
    return render(
        request,
        "bridgedesk/error.html",
        {"status_code": status_code, "detail": detail, "data": data},
        actor=actor,
        status_code=status_code,
    )
