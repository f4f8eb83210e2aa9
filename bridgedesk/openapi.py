"""The OpenAPI document tells the truth about errors: one error model (`ErrorOut`) for every
error answer, and for every route the statuses it can really give, derived when the app is
assembled from what the route is made of (its authentication, path parameters, body, method),
so a route added later is documented without anyone listing it. Renditions (PDF, CSV,
calendar, HTML) are documented with their media types, and authenticated routes with the
credentials they take."""

import json
import mimetypes
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import TypeAdapter

from bridgedesk.auth import SESSION_COOKIE, calendar_reader, current_actor
from bridgedesk.schemas import ErrorOut

# The dependencies that let a request in only with credentials (else 401) and may refuse
# a signed-in user the thing asked for (403).
AUTHENTICATORS: tuple[Callable[..., Any], ...] = (current_actor, calendar_reader)
# Of those, the ones that also take a calendar feed key in `?key=`.
FEED_READERS: tuple[Callable[..., Any], ...] = (calendar_reader,)
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})

SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "POST /api/v1/auth/token"},
    "session": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE},
    "feedKey": {
        "type": "apiKey",
        "in": "query",
        "name": "key",
        "description": "POST /api/v1/auth/feed-key; reads calendar feeds only",
    },
}
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again",
        "schema": {"type": "integer"},
    }
}


@dataclass(frozen=True)
class RouteShape:
    """What the document can be derived from: how a route is built, not what it does."""

    method: str
    path: str
    authenticated: bool
    reads_feeds: bool
    path_params: bool
    query_params: bool
    body: bool
    takes_password: bool
    # A query parameter or body field naming another resource by id (`customer_id`,
    # `site_ids`...): that resource may not exist (404).
    names_resources: bool

    @property
    def sign_in(self) -> bool:
        """A route that checks a password without a signed-in user: wrong ones are 401, and
        the sign-in throttle answers 429."""
        return self.takes_password and not self.authenticated


@dataclass(frozen=True)
class ErrorRule:
    status: int
    applies: Callable[[RouteShape], bool]
    description: str
    retry_after: bool = False


# Each status and the shape of route that can give it (SPEC §8: 401, 403, 404, 409, 422 ...).
ERROR_RULES = (
    ErrorRule(
        401,
        lambda r: r.authenticated or r.sign_in,
        "Not signed in (no, an unknown or an expired credential), or wrong credentials.",
    ),
    ErrorRule(
        403, lambda r: r.authenticated, "Signed in, but this role or customer may not do this."
    ),
    ErrorRule(
        400, lambda r: r.body, "The body is not well-formed (not JSON, or not its media type)."
    ),
    ErrorRule(
        404,
        lambda r: r.path_params or r.names_resources,
        "No such resource (in the path, or named by id in the request), or not this user's.",
    ),
    ErrorRule(
        409,
        lambda r: r.method in WRITES and r.authenticated,
        "Refused by the current state (a busy site, an issued invoice, a taken name...).",
    ),
    ErrorRule(413, lambda r: r.body, "The request body is larger than the service accepts."),
    ErrorRule(
        422,
        lambda r: r.body or r.path_params or r.query_params,
        "The request is not valid: `detail` lists each field, or names the rule it breaks.",
    ),
    ErrorRule(
        429,
        lambda r: r.sign_in,
        "Too many sign-in attempts; try again after `Retry-After` seconds.",
        retry_after=True,
    ),
    ErrorRule(
        503,
        lambda r: True,
        "The database is not reachable; try again after `Retry-After` seconds.",
        retry_after=True,
    ),
)

_FRAMEWORK_ERROR_SCHEMAS = ("HTTPValidationError", "ValidationError")


def install(app: FastAPI) -> None:
    """Make `app.openapi()` return the document with its error answers derived."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        document = generate()  # FastAPI caches it; describing it again changes nothing
        describe(document, list(route_shapes(app)))
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def route_shapes(app: FastAPI) -> Iterator[RouteShape]:
    for context in iter_route_contexts(app.routes):
        if not isinstance(context.original_route, APIRoute) or not context.include_in_schema:
            continue
        dependants = list(_walk(context.dependant))
        calls = [d.call for d in dependants]
        body = context.body_field
        body_fields = _field_names(body)
        query_names = {p.alias for d in dependants for p in d.query_params}
        names_resources = any(_is_reference(name) for name in body_fields | query_names)
        for method in sorted(context.methods or ()):
            yield RouteShape(
                method=method,
                path=str(context.path_format),
                authenticated=any(call in AUTHENTICATORS for call in calls),
                reads_feeds=any(call in FEED_READERS for call in calls),
                path_params=any(d.path_params for d in dependants),
                query_params=any(d.query_params for d in dependants),
                body=body is not None,
                takes_password="password" in _field_names(body, nested=False),
                names_resources=names_resources,
            )


def describe(document: dict[str, Any], shapes: list[RouteShape]) -> None:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    error_schema = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(error_schema.pop("$defs", {}))
    schemas[ErrorOut.__name__] = error_schema
    error_ref = {"$ref": f"#/components/schemas/{ErrorOut.__name__}"}
    document["components"].setdefault("securitySchemes", {}).update(SECURITY_SCHEMES)

    for shape in shapes:
        operation = document["paths"].get(shape.path, {}).get(shape.method.lower())
        if operation is None:
            continue
        # A route that reads its body itself declares it in the document only (CSV imports).
        shape = replace(shape, body=shape.body or "requestBody" in operation)
        responses: dict[str, Any] = operation.setdefault("responses", {})
        for rule in ERROR_RULES:
            if not rule.applies(shape):
                continue
            answer = responses.setdefault(str(rule.status), {"description": rule.description})
            if str(rule.status) == "422" or "content" not in answer:
                # FastAPI's own 422 model says `detail` is always a list; ours says what is sent.
                answer["description"] = rule.description
                answer["content"] = {"application/json": {"schema": error_ref}}
            if rule.retry_after:
                answer.setdefault("headers", {}).update(RETRY_AFTER)
        _describe_rendition(shape, responses)
        if shape.authenticated:
            credentials: list[dict[str, list[str]]] = [{"bearer": []}, {"session": []}]
            operation["security"] = credentials + ([{"feedKey": []}] if shape.reads_feeds else [])

    # The framework's list-only error model is no longer referenced: drop it.
    text = json.dumps(document)
    for name in _FRAMEWORK_ERROR_SCHEMAS:
        if f'"#/components/schemas/{name}"' not in text:
            schemas.pop(name, None)


def _describe_rendition(shape: RouteShape, responses: dict[str, Any]) -> None:
    """A route whose path names a file (`.pdf`, `.csv`, `.ics`, `.html`) answers that file."""
    media_type, _ = mimetypes.guess_type(shape.path.rsplit("/", 1)[-1])
    if media_type is None or media_type == "application/json":
        return
    schema: dict[str, Any] = {"type": "string"}
    if not media_type.startswith("text/"):
        schema["format"] = "binary"
    for status, answer in responses.items():
        if status.startswith("2"):
            answer["content"] = {media_type: {"schema": schema}}


def _walk(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for dependency in dependant.dependencies:
        yield from _walk(dependency)


def _field_names(body: Any, *, nested: bool = True) -> set[str]:
    """The field names of a route's JSON body (with `nested`, those of the models inside)."""
    model = getattr(getattr(body, "field_info", None), "annotation", None)
    if model is None:
        return set()
    try:
        schema = TypeAdapter(model).json_schema()
    except Exception:  # a body type pydantic cannot describe names nothing we can read
        return set()
    if not nested:
        return set(schema.get("properties", {}))
    return set(_property_names(schema))


def _property_names(schema: Any) -> Iterator[str]:
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "properties" and isinstance(value, dict):
                yield from value
            yield from _property_names(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from _property_names(item)


def _is_reference(name: str) -> bool:
    return name.endswith(("_id", "_ids"))
