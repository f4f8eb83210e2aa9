"""The one rule for text at the edge (bridgedesk/text.py): a control character in any text
field is a 4xx that changes nothing, in every JSON route, every page form and the CSV import.

The routes and forms are found, not listed: JSON writes from the access table and the
published schema (as in test_bad_input), page forms from the app's POST routes and the
templates' <form> fields, so a route or form added later is swept too.
"""

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bridgedesk.app.asgi import create_app
from bridgedesk.forms import MULTI_LINE_FORM_FIELDS
from bridgedesk.identity import Role
from tests.access_rules import World
from tests.bridgedesk.test_asgi import WRITES
from tests.bridgedesk.test_auth_access import request_for
from tests.snapshots import snapshot

# A representative set: NUL, SOH, BS, VT, FF, CR, ESC, DEL; LF where the field is one line.
CONTROLS = ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\r", "\x1b", "\x7f"]
SINGLE_LINE_ONLY = ["\n"]
ROOT = Path(__file__).resolve().parents[2]

_SCHEMA = create_app(migrate_on_start=False).openapi()


def _route_id(route: tuple[str, str]) -> str:
    return f"{route[0]} {route[1]}"


# -- JSON routes --


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = _SCHEMA["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _leaves(schema: dict[str, Any], path: tuple[Any, ...]) -> Iterator[dict[str, Any]]:
    """The schemas the value at `path` may be described by."""
    schema = _resolve(schema)
    for option in schema.get("anyOf", []) + schema.get("allOf", []):
        yield from _leaves(option, path)
    if not path:
        yield schema
        return
    head, rest = path[0], path[1:]
    if isinstance(head, int) and "items" in schema:
        yield from _leaves(schema["items"], rest)
    elif isinstance(head, str):
        if head in schema.get("properties", {}):
            yield from _leaves(schema["properties"][head], rest)
        elif isinstance(schema.get("additionalProperties"), dict):
            yield from _leaves(schema["additionalProperties"], rest)


def _multi_line(route: tuple[str, str], path: tuple[Any, ...]) -> bool:
    """Whether the published schema marks the field at `path` as multi-line."""
    operation = _SCHEMA["paths"][route[1]][route[0].lower()]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    return any(leaf.get("x-multi-line") for leaf in _leaves(body, path))


def _text_fields(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, str):
        yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _text_fields(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _text_fields(item, (*path, index))


def _with(value: Any, path: tuple[Any, ...], character: str) -> Any:
    """A copy of `value` with `character` inside the text at `path` (not at its ends, where
    trimming could hide it)."""
    if not path:
        text = str(value) or "x"
        return text[:1] + character + text[1:] + ("x" if len(text) < 2 else "")
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = _with(value[path[0]], path[1:], character)
    return copy


@pytest.mark.parametrize("route", WRITES, ids=_route_id)
async def test_a_control_character_in_any_json_text_field_is_refused(
    db, world: World, client_as, route
):
    admin = await client_as(Role.ADMIN)
    body = request_for(route, world, admin.user).get("json")  # type: ignore[attr-defined]
    fields = list(_text_fields(body)) if body is not None else []
    if not fields:
        pytest.skip("this route's body carries no text")
    before = await snapshot(db)
    tried = 0
    for path in fields:
        extra = [] if _multi_line(route, path) else SINGLE_LINE_ONLY
        for character in CONTROLS + extra:
            response = await admin.request(
                route[0], world.path(route[1]), json=_with(body, path, character)
            )
            where = f"{path} {character!r}"
            assert 400 <= response.status_code < 500, (where, response.text)
            assert response.json()["detail"], where
            tried += 1
    assert tried >= len(fields) * len(CONTROLS)
    assert await snapshot(db) == before


async def test_multi_line_fields_keep_their_line_breaks(db, world: World, client_as):
    """The control: a note is multi-line, so LF and TAB are text there (CRLF becomes LF)."""
    admin = await client_as(Role.ADMIN)
    ticket = world.ids["ticket_id"]
    response = await admin.post(
        f"/api/v1/tickets/{ticket}/respond", json={"note": "first line\r\nsecond\tline"}
    )
    assert response.status_code in (200, 201), response.text
    assert "first line\nsecond\tline" in response.text.replace("\\n", "\n").replace("\\t", "\t")


# -- page forms --

_FORM = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.S | re.I)
_ACTION = re.compile(r'action="([^"]*)"')
_FIELD = re.compile(r"<(input|select|textarea)\b([^>]*)>", re.I)
_NAME = re.compile(r'\bname="([^"{}]+)"')
_TEXTAREA = re.compile(r'<textarea\b[^>]*\bname="([^"]+)"', re.I)


def _templates() -> list[Path]:
    return [p for p in ROOT.glob("*/templates/**/*.html") if ".venv" not in p.parts]


def _template_forms() -> list[tuple[str, set[str]]]:
    """(action, field names) of every POST form in the templates; Jinja parts become `1`."""
    forms = []
    for template in _templates():
        for attributes, inside in _FORM.findall(template.read_text()):
            if 'method="post"' not in attributes.lower():
                continue
            action = _ACTION.search(attributes)
            target = re.sub(r"\{\{.*?\}\}|\{%.*?%\}", "1", action.group(1)) if action else ""
            names = set()
            for _kind, field in _FIELD.findall(inside):
                name = _NAME.search(field)
                if name and 'type="file"' not in field and name.group(1) != "csrf_token":
                    names.add(name.group(1))
            forms.append((target, names))
    return forms


def _page_post_routes() -> list[str]:
    from fastapi.routing import iter_route_contexts

    app = create_app(migrate_on_start=False)
    return sorted(
        {
            r.path
            for r in iter_route_contexts(app.routes)
            if not r.path.startswith("/api/") and "POST" in (r.methods or ())
        }
    )


PAGE_ROUTES = _page_post_routes()
TEMPLATE_FORMS = _template_forms()


def _pattern(route: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\{[^}]+\}", r"[^/]+", route) + "$")


def _fields_of(route: str) -> set[str]:
    """The fields of the templates' forms that post to this route."""
    pattern = _pattern(route)
    names: set[str] = set()
    for action, fields in TEMPLATE_FORMS:
        if pattern.match(action.split("?")[0]):
            names |= fields
    return names


def test_the_sweep_finds_the_forms():
    """Found, not listed: most page routes have a form in the templates, with fields."""
    assert len(PAGE_ROUTES) >= 15
    with_fields = [route for route in PAGE_ROUTES if _fields_of(route)]
    assert len(with_fields) >= 10, with_fields
    assert {"email", "password"} <= _fields_of("/login")


def test_every_textarea_is_a_declared_multi_line_field():
    """Browsers send line breaks only from textareas; each one's name is multi-line."""
    textareas = {name for t in _templates() for name in _TEXTAREA.findall(t.read_text())}
    assert textareas and textareas <= MULTI_LINE_FORM_FIELDS


def _filled(route: str, world: World) -> str:
    values: dict[str, Any] = {
        "conference_id": world.conference_id,
        "site_id": world.site_id,
        "action": "respond",
        **world.ids,
    }
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: str(values.get(m.group(1), 1)), route)


@pytest.mark.parametrize("route", PAGE_ROUTES)
async def test_a_control_character_in_any_form_field_is_refused(
    db, world: World, sign_in, make_user, route
):
    admin = await make_user(Role.ADMIN)
    browser = await sign_in(admin)
    page = await browser.get("/billing")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf, page.text[:300]
    fields = _fields_of(route) or {"name"}
    before = await snapshot(db)
    for field in sorted(fields):
        extra = [] if field in MULTI_LINE_FORM_FIELDS else SINGLE_LINE_ONLY
        for character in CONTROLS + extra:
            response = await browser.post(
                _filled(route, world),
                data={"csrf_token": csrf.group(1), field: f"a{character}b"},
            )
            where = f"{field} {character!r}"
            assert response.status_code == 422, (where, response.text[:500])
            assert "control characters" in response.text, where
    assert await snapshot(db) == before
