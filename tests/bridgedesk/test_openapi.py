"""The published OpenAPI document: one error model for every error answer, error statuses
derived from each route's shape (so a route added later is covered without listing it),
renditions with their media types, and the credentials each route takes."""

from typing import Annotated, Any

import pytest
from fastapi import APIRouter, FastAPI, Path
from pydantic import BaseModel

from bridgedesk.app.asgi import create_app
from bridgedesk.auth import CurrentActor

ERROR_REF = "#/components/schemas/ErrorOut"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return create_app(migrate_on_start=False).openapi()


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, by_method in document["paths"].items()
        for method, operation in by_method.items()
    ]


def statuses(document: dict[str, Any], method: str, path: str) -> set[int]:
    return {int(code) for code in document["paths"][path][method.lower()]["responses"]}


def test_every_error_answer_of_every_route_is_the_one_error_model(document):
    errors = [
        (method, path, status, answer)
        for method, path, operation in operations(document)
        for status, answer in operation["responses"].items()
        if int(status) >= 400
    ]
    assert len(errors) > 300
    for method, path, status, answer in errors:
        schema = answer["content"]["application/json"]["schema"]
        assert schema == {"$ref": ERROR_REF}, (method, path, status)
    # FastAPI's own 422 model (`detail` always a list) is gone: ours says string or list.
    assert "HTTPValidationError" not in document["components"]["schemas"]
    detail = document["components"]["schemas"]["ErrorOut"]["properties"]["detail"]
    assert [choice.get("type") for choice in detail["anyOf"]] == ["string", "array"]
    assert document["components"]["schemas"]["ErrorOut"]["additionalProperties"] is True


def test_every_route_documents_503_with_retry_after(document):
    for method, path, operation in operations(document):
        unavailable = operation["responses"]["503"]
        assert "Retry-After" in unavailable["headers"], (method, path)


@pytest.mark.parametrize(
    "method, path, expected",
    [
        ("GET", "/api/v1/users/me", {200, 401, 403, 503}),
        ("GET", "/api/v1/conferences/{conference_id}", {200, 401, 403, 404, 422, 503}),
        (
            "POST",
            "/api/v1/conferences",
            {201, 400, 401, 403, 404, 409, 413, 422, 503},
        ),
        ("POST", "/api/v1/auth/token", {200, 400, 401, 413, 422, 429, 503}),
        ("GET", "/api/v1/call-stats", {200, 401, 403, 404, 422, 503}),
    ],
)
def test_statuses_follow_from_the_route_shape(document, method, path, expected):
    assert statuses(document, method, path) == expected


def test_sign_in_documents_its_throttle_with_retry_after(document):
    throttled = document["paths"]["/api/v1/auth/token"]["post"]["responses"]["429"]
    assert "Retry-After" in throttled["headers"]


class WidgetIn(BaseModel):
    site_id: int
    label: str


def test_a_route_added_later_is_documented_without_listing_it():
    """A router another package adds tomorrow: nothing in it mentions an error status."""
    app: FastAPI = create_app(migrate_on_start=False)
    router = APIRouter()

    @router.post("/api/v1/widgets/{widget_id}/parts", status_code=201)
    async def add_part(
        widget_id: Annotated[int, Path(ge=1)], body: WidgetIn, actor: CurrentActor
    ) -> dict[str, str]:
        return {}

    @router.get("/api/v1/widgets")
    async def list_widgets(actor: CurrentActor) -> list[str]:
        return []

    @router.get("/api/v1/widgets/catalogue.csv")
    async def catalogue() -> str:
        return ""

    app.include_router(router)
    document = app.openapi()
    assert statuses(document, "POST", "/api/v1/widgets/{widget_id}/parts") == {
        201, 400, 401, 403, 404, 409, 413, 422, 503,
    }  # fmt: skip
    assert statuses(document, "GET", "/api/v1/widgets") == {200, 401, 403, 503}
    assert document["paths"]["/api/v1/widgets"]["get"]["security"][0] == {"bearer": []}
    catalogue_answers = document["paths"]["/api/v1/widgets/catalogue.csv"]["get"]["responses"]
    assert list(catalogue_answers["200"]["content"]) == ["text/csv"]
    assert "security" not in document["paths"]["/api/v1/widgets/catalogue.csv"]["get"]
    assert set(catalogue_answers) == {"200", "503"}


@pytest.mark.parametrize(
    "path, media_type",
    [
        ("/api/v1/invoices/{invoice_id}.pdf", "application/pdf"),
        ("/api/v1/invoices/{invoice_id}.csv", "text/csv"),
        ("/api/v1/invoices/{invoice_id}.html", "text/html"),
        ("/api/v1/credit-memos/{memo_id}.pdf", "application/pdf"),
        ("/api/v1/customers/{customer_id}/calendar.ics", "text/calendar"),
        ("/api/v1/sites/{site_id}/calendar.ics", "text/calendar"),
    ],
)
def test_renditions_are_documented_with_their_media_types(document, path, media_type):
    answer = document["paths"][path]["get"]["responses"]["200"]
    assert list(answer["content"]) == [media_type]


def test_calendar_feeds_document_the_feed_key(document):
    feed = document["paths"]["/api/v1/sites/{site_id}/calendar.ics"]["get"]
    assert {"feedKey": []} in feed["security"]
    assert document["components"]["securitySchemes"]["feedKey"]["in"] == "query"
    assert {"feedKey": []} not in document["paths"]["/api/v1/users/me"]["get"]["security"]


def test_the_document_is_the_same_when_asked_twice():
    app = create_app(migrate_on_start=False)
    first = app.openapi()
    assert app.openapi() == first
