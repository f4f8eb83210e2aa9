"""The input rules every edge shares: an instant is ISO 8601 with an offset, never a bare
number (which pydantic alone would read as Unix seconds)."""

from datetime import UTC, datetime

import pytest
from pydantic import TypeAdapter, ValidationError

from bridgedesk.identity import Role
from bridgedesk.schemas import Instant

instant = TypeAdapter(Instant)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2027-01-04T09:00:00+01:00", datetime(2027, 1, 4, 8, tzinfo=UTC)),
        ("2027-01-04T09:00Z", datetime(2027, 1, 4, 9, tzinfo=UTC)),
        ("2027-01-04 09:00:00.5-05:00", datetime(2027, 1, 4, 14, 0, 0, 500000, tzinfo=UTC)),
    ],
)
def test_iso_8601_with_an_offset_is_an_instant(text, expected):
    assert instant.validate_python(text) == expected
    assert instant.validate_json(f'"{text}"') == expected


@pytest.mark.parametrize(
    "value", [1700000000, 1700000000.5, "1700000000", "1.7e9", True, "2027-01-04T09:00:00"]
)
def test_numbers_and_naive_times_are_refused(value):
    with pytest.raises(ValidationError):
        instant.validate_python(value)


async def test_the_api_refuses_a_number_for_an_instant(client_as, make_site):
    site = await make_site()
    scheduler = await client_as(Role.SCHEDULER, customer_id=site.customer_id)
    listed = await scheduler.get("/api/v1/conferences", params={"from": "1700000000"})
    assert listed.status_code == 422, listed.text
    booked = await scheduler.post(
        "/api/v1/conferences",
        json={
            "customer_id": site.customer_id,
            "title": "Numbers",
            "leader_name": "Lee",
            "start": 1900000000,
            "end": "2030-03-17T18:00:00Z",
            "sites": [{"site_id": site.id}],
        },
    )
    assert booked.status_code == 422, booked.text
    assert booked.json()["detail"][0]["loc"] == ["body", "start"]
