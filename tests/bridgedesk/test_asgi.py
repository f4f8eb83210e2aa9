"""Nonsense sent to any route that takes a JSON body is a 4xx with a JSON `detail`, never a
500, and changes nothing: every POST, PATCH and PUT of the access table that reads a body,
tried as an admin."""

import pytest

from bridgedesk.app.asgi import create_app
from bridgedesk.identity import Role
from tests.access_rules import World
from tests.bridgedesk.test_auth_access import ACCESS, request_for
from tests.snapshots import snapshot


def _reads_a_json_body() -> set[tuple[str, str]]:
    """From the published schema: the operations that declare a JSON request body."""
    schema = create_app(migrate_on_start=False).openapi()
    return {
        (method.upper(), path)
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if "application/json" in operation.get("requestBody", {}).get("content", {})
    }


WRITES = [route for route in ACCESS if route in _reads_a_json_body() and not ACCESS[route].public]
NONSENSE = {
    "empty object": {},
    "a list": [],
    "a string": "x",
    "nul text": {"name": "a\x00b", "title": "\x00", "reason": "\x00", "sip_uri": "sip:\x00@h"},
    "huge numbers": {"customer_id": 2**63, "site_id": -(2**63), "minutes": 10**30},
    "wrong types": {"customer_id": "one", "start": 5, "end": [], "sites": "all"},
}


def _id(route: tuple[str, str]) -> str:
    return f"{route[0]} {route[1]}"


@pytest.mark.parametrize("body", list(NONSENSE), ids=str)
@pytest.mark.parametrize("route", WRITES, ids=_id)
async def test_nonsense_is_refused_cleanly(db, world: World, client_as, route, body):
    """Every write route that reads a body, with each kind of nonsense."""
    admin = await client_as(Role.ADMIN)
    before = await snapshot(db)
    response = await admin.request(route[0], world.path(route[1]), json=NONSENSE[body])
    assert response.status_code < 500, response.text
    if body == "empty object" and response.is_success:
        return  # a body whose fields are all optional (a note, a reason): `{}` is a request
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["detail"]
    assert await snapshot(db) == before


def _with_nul(value: object) -> object:
    """The same body with NUL inside every piece of text."""
    if isinstance(value, str):
        return value[:1] + "\x00" + value[1:]
    if isinstance(value, dict):
        return {key: _with_nul(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_with_nul(item) for item in value]
    return value


@pytest.mark.parametrize("route", WRITES, ids=_id)
async def test_a_valid_body_with_nul_in_its_text_is_refused(db, world, client_as, route):
    """PostgreSQL can store no NUL in text or JSON: every edge refuses it, on every backend."""
    admin = await client_as(Role.ADMIN)
    valid = request_for(route, world, admin.user)  # type: ignore[attr-defined]
    body = valid.get("json")
    if body is None or _with_nul(body) == body:
        pytest.skip("this route's body carries no text")
    before = await snapshot(db)
    response = await admin.request(route[0], world.path(route[1]), json=_with_nul(body))
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["detail"]
    assert await snapshot(db) == before


# Keys of a JSON schema node that say nothing about its type.
_ANNOTATIONS = {"title", "description", "default", "examples", "deprecated", "readOnly"}


def _untyped_parts(node: object, where: str, components: dict, seen: set[str]) -> set[str]:
    """Where a published answer's schema is `Any` ({}), or an object of unnamed anything
    (`dict[str, Any]`)."""
    if not isinstance(node, dict):
        return set()
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        if name in seen:
            return set()
        seen.add(name)
        return _untyped_parts(components[name], name, components, seen)
    found = set()
    if not set(node) - _ANNOTATIONS:
        found.add(where)
    open_object = node.get("type") == "object" and "properties" not in node
    if open_object and node.get("additionalProperties", True) in (True, {}):
        found.add(where)
    for key in ("items", "additionalProperties"):
        found |= _untyped_parts(node.get(key), f"{where}[{key}]", components, seen)
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        for part in node.get(key, []):
            found |= _untyped_parts(part, where, components, seen)
    for name, part in node.get("properties", {}).items():
        found |= _untyped_parts(part, f"{where}.{name}", components, seen)
    return found


def test_every_json_answer_is_typed():
    """No API answer is `dict[str, Any]` or `Any`: each JSON success answer's published schema
    names every field down to its leaves (typed maps such as `dict[str, str]` allowed)."""
    schema = create_app(migrate_on_start=False).openapi()
    components = schema["components"]["schemas"]
    untyped = set()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for status, answer in operation.get("responses", {}).items():
                json_answer = answer.get("content", {}).get("application/json")
                if status.startswith("2") and json_answer is not None:
                    where = f"{method.upper()} {path}"
                    untyped |= _untyped_parts(json_answer["schema"], where, components, set())
    assert sorted(untyped) == []
