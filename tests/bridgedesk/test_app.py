"""The application's error policy: a method a path does not take is a 405 whose `Allow`
names every method the path does take, as the OpenAPI document lists them."""

import re

import httpx

from bridgedesk.app.asgi import create_app


def _pattern(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$")


async def test_405_allows_exactly_the_documented_methods_of_every_path():
    app = create_app(migrate_on_start=False)
    paths = app.openapi()["paths"]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        for template in paths:
            path = re.sub(r"\{[^}]+\}", "1", template)  # a 405 comes before any id is read
            # `/conferences/adhoc` also fits `/conferences/{conference_id}`: both count.
            documented = {
                method.upper()
                for other, operations in paths.items()
                if _pattern(other).match(path)
                for method in operations
            }
            response = await client.request("OPTIONS", path)
            assert response.status_code == 405, (template, response.text)
            assert set(response.headers["Allow"].split(", ")) == documented, template
