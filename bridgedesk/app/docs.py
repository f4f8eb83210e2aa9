"""The API documentation at /docs and /redoc, drawn on the server from the app's own OpenAPI
document: no script or stylesheet from a CDN, so it reads the same without internet."""

from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from bridgedesk.web import render

router = APIRouter(include_in_schema=False)
METHODS = ("get", "post", "put", "patch", "delete")
REF_PREFIX = "#/components/schemas/"


def type_of(schema: dict[str, Any]) -> str:
    """A schema as a reader says it: `integer`, `array of SiteOut`, `string | null`."""
    if "$ref" in schema:
        return str(schema["$ref"]).removeprefix(REF_PREFIX)
    for combined in ("anyOf", "oneOf", "allOf"):
        if combined in schema:
            return " | ".join(type_of(part) for part in schema[combined])
    kind = str(schema.get("type", "object"))
    if kind == "array":
        return f"array of {type_of(schema.get('items', {}))}"
    if "enum" in schema:
        return " | ".join(repr(value) for value in schema["enum"])
    return f"{kind} ({schema['format']})" if "format" in schema else kind


@dataclass
class Field:
    name: str
    where: str
    type: str
    required: bool
    description: str = ""


@dataclass
class Operation:
    method: str
    path: str
    summary: str
    description: str
    anchor: str
    parameters: list[Field] = field(default_factory=list)
    body: str | None = None
    responses: list[tuple[str, str, str]] = field(default_factory=list)


def _body(operation: dict[str, Any]) -> str | None:
    content = operation.get("requestBody", {}).get("content", {})
    for media, spec in content.items():
        return f"{type_of(spec.get('schema', {}))} ({media})"
    return None


def operations(document: dict[str, Any]) -> dict[str, list[Operation]]:
    """The document's operations grouped by their first tag, in the document's order."""
    grouped: dict[str, list[Operation]] = {}
    for path, item in document.get("paths", {}).items():
        for method in METHODS:
            if method not in item:
                continue
            spec = item[method]
            found = Operation(
                method=method.upper(),
                path=path,
                summary=str(spec.get("summary", "")),
                description=str(spec.get("description", "")),
                anchor=str(spec.get("operationId", f"{method}{path}")),
                parameters=[
                    Field(
                        str(p["name"]),
                        str(p.get("in", "")),
                        type_of(p.get("schema", {})),
                        bool(p.get("required")),
                        str(p.get("description", "")),
                    )
                    for p in spec.get("parameters", [])
                ],
                body=_body(spec),
            )
            for status, answer in spec.get("responses", {}).items():
                content: dict[str, dict[str, Any]] = answer.get("content", {})
                first: dict[str, Any] = next(iter(content.values()), {})
                shape = type_of(first["schema"]) if "schema" in first else ""
                found.responses.append((str(status), str(answer.get("description", "")), shape))
            grouped.setdefault((spec.get("tags") or ["other"])[0], []).append(found)
    return grouped


def schemas(document: dict[str, Any]) -> dict[str, list[Field]]:
    found: dict[str, list[Field]] = {}
    for name, schema in document.get("components", {}).get("schemas", {}).items():
        required = set(schema.get("required", []))
        found[name] = [
            Field(prop, "", type_of(spec), prop in required, str(spec.get("description", "")))
            for prop, spec in schema.get("properties", {}).items()
        ]
    return found


def _page(request: Request, heading: str) -> Response:
    document = request.app.openapi()
    context = {
        "heading": heading,
        "info": document.get("info", {}),
        "groups": operations(document),
        "schemas": schemas(document),
    }
    actor = getattr(request.state, "actor", None)
    return render(request, "bridgedesk/api_docs.html", context, actor=actor)


@router.get("/docs")
async def swagger_docs(request: Request) -> Response:
    return _page(request, "API documentation")


@router.get("/redoc")
async def reference_docs(request: Request) -> Response:
    return _page(request, "API reference")
