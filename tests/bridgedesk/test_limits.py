"""The body limit (bridgedesk/limits.py) in process: the bulk routes take more than the
others, a chunked body is counted as it comes; and paging is bounded on every list route."""

import json

import pytest

from bridgedesk.app.asgi import BULK_ROUTES, create_app
from bridgedesk.identity import Role
from bridgedesk.settings import get_settings

MIB = 1024 * 1024


def _records(size: int) -> bytes:
    """A CDR batch of about `size` bytes whose records are each refused (nothing stored)."""
    record = {"conference_number": "C-0000-000000", "site_id": 1, "speed_kbps": 1}
    one = json.dumps(record).encode()
    count = size // (len(one) + 1)
    return b'{"records": [' + b",".join([one] * count) + b"]}"


async def test_a_bulk_route_takes_a_body_other_routes_refuse(db, client_as):
    admin = await client_as(Role.ADMIN)
    body = _records(2 * MIB)
    assert get_settings().max_body_bytes < len(body) < get_settings().max_bulk_body_bytes
    headers = {"content-type": "application/json"}
    bulk = await admin.post("/api/v1/cdrs", content=body, headers=headers)
    assert bulk.status_code == 422, bulk.text[:300]  # read and judged, record by record
    other = await admin.post("/api/v1/conferences", content=body, headers=headers)
    assert other.status_code == 413 and other.json()["detail"]
    page = await admin.post("/tickets/new", content=body, headers=headers)
    assert page.status_code == 413


async def test_a_chunked_body_is_counted_as_it_arrives(db, client_as):
    admin = await client_as(Role.ADMIN)

    async def chunks():
        for _ in range(4):
            yield b" " * (MIB // 2)
        yield b"{}"

    response = await admin.post(
        "/api/v1/customers", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


def test_the_bulk_routes_exist():
    app = create_app(migrate_on_start=False)
    from fastapi.routing import iter_route_contexts

    routes = {(m, r.path) for r in iter_route_contexts(app.routes) for m in (r.methods or ())}
    assert routes >= BULK_ROUTES


def _paged_routes() -> list[tuple[str, str]]:
    schema = create_app(migrate_on_start=False).openapi()
    return [
        (path, parameter["name"])
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if method == "get"
        for parameter in operation.get("parameters", [])
        if parameter["name"] in ("offset", "limit")
    ]


PAGED = _paged_routes()


def test_list_routes_are_found():
    assert {name for _, name in PAGED} == {"offset", "limit"} and len(PAGED) >= 3


@pytest.mark.parametrize("value", ["9223372036854775808", "-1", str(2**31), "1e99"])
@pytest.mark.parametrize(("path", "name"), PAGED, ids=lambda v: str(v))
async def test_paging_past_its_bounds_is_a_422(db, client_as, path, name, value):
    admin = await client_as(Role.ADMIN)
    response = await admin.get(path, params={name: value})
    assert response.status_code == 422, response.text
