"""Request bodies the API tests send again and again, built in one place.

A test whose subject is the exact shape of a body (a malformed or invalid one) spells it out.
"""

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any


def conference_body(
    customer_id: int,
    site_ids: Iterable[int],
    start: datetime,
    *,
    minutes: float = 60,
    title: str = "Review",
    leader_name: str = "Lee",
    **extra: Any,
) -> dict[str, Any]:
    """A body for POST /api/v1/conferences: `minutes` long from `start`, ISO datetimes."""
    return {
        "customer_id": customer_id,
        "title": title,
        "leader_name": leader_name,
        "start": start.isoformat(),
        "end": (start + timedelta(minutes=minutes)).isoformat(),
        "sites": [{"site_id": i} for i in site_ids],
        **extra,
    }


def series_body(
    customer_id: int,
    site_ids: Iterable[int],
    start: datetime,
    rrule: str,
    *,
    minutes: float = 60,
    title: str = "Weekly",
    leader_name: str = "Lee",
    **recurrence: Any,
) -> dict[str, Any]:
    """A conference body that books a series: `rrule` plus any other recurrence fields."""
    return conference_body(
        customer_id,
        site_ids,
        start,
        minutes=minutes,
        title=title,
        leader_name=leader_name,
        recurrence={"rrule": rrule, **recurrence},
    )
