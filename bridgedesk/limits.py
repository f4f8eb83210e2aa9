"""The request-body limit, applied before anything parses a body.

An ASGI middleware: a declared `Content-Length` over the limit is refused at once, unread;
a body without one (chunked) is counted as it arrives and refused as soon as it passes the
limit. Only a body within the limit reaches the application, so no route, form parser or
JSON decoder ever holds more than the limit in memory for one request. The bulk routes
(CDR import, site CSV import) have the larger limit; every other route the smaller one.
"""

import json
from collections.abc import Collection

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bridgedesk.settings import get_settings


class BodyLimit:
    def __init__(self, app: ASGIApp, *, bulk_routes: Collection[tuple[str, str]]) -> None:
        self.app = app
        self.bulk_routes = frozenset(bulk_routes)

    def limit_for(self, scope: Scope) -> int:
        settings = get_settings()
        if (scope.get("method", ""), scope.get("path", "")) in self.bulk_routes:
            return settings.max_bulk_body_bytes
        return settings.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _too_large(send, limit)
            return
        body: list[bytes] = []
        size = 0
        last: Message | None = None
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: let the app see it
                last = message
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _too_large(send, limit)
                return
            body.append(chunk)
            if not message.get("more_body", False):
                break
        replay: list[Message] = [
            {"type": "http.request", "body": b"".join(body), "more_body": False}
        ]
        if last is not None:
            replay.append(last)

        async def replayed() -> Message:
            # The body once, then the connection's own messages (a disconnect, for streams).
            return replay.pop(0) if replay else await receive()

        await self.app(scope, replayed, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _too_large(send: Send, limit: int) -> None:
    payload = json.dumps(
        {"detail": f"The request body is larger than {limit} bytes.", "limit": limit}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                # The rest of the body is never read: the connection cannot be reused.
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
