"""The headers every answer carries, and the Content-Security-Policy that fits the pages.

Pages load scripts only from this site (`/static/...`) or inline with the request's nonce
(`<script nonce="{{ csp_nonce }}">`, which `web.render` provides); styles may be inline, as
the invoice and credit-memo renditions are single HTML documents shared with the PDF printer.
No page may be framed by another site, nor send its address to another site.
"""

import secrets

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP_NONCE = "csp_nonce"
COMMON = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def page_policy(nonce: str) -> str:
    return "; ".join(
        [
            "default-src 'self'",
            f"script-src 'self' 'nonce-{nonce}'",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


# Answers that are not pages (JSON, calendars, CSV, PDF) run nothing and are never framed.
OTHER_POLICY = "default-src 'none'; frame-ancestors 'none'"


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, exempt_paths: frozenset[str] = frozenset()) -> None:
        self.app = app
        # FastAPI's interactive API docs use inline scripts of their own; they keep no policy.
        self.exempt_paths = exempt_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(16)
        scope.setdefault("state", {})[CSP_NONCE] = nonce
        exempt = scope.get("path", "") in self.exempt_paths

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in COMMON.items():
                    headers.setdefault(name, value)
                is_page = headers.get("content-type", "").startswith("text/html")
                if not exempt:
                    headers.setdefault(
                        "Content-Security-Policy", page_policy(nonce) if is_page else OTHER_POLICY
                    )
            await send(message)

        await self.app(scope, receive, with_headers)
