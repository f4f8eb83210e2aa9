"""Many clients booking at once through the real server never double-book a site.

Both tests must fail when the exclusion constraint is dropped and the site lock turned off
(`BRIDGEDESK_TEST_WITHOUT_EXCLUSION=1`): a plain check-then-insert lets racing bookings through.
"""

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.server.conftest import (
    WITHOUT_EXCLUSION,
    BookingService,
    fire_together,
    has_exclusion_constraint,
)

pytestmark = [pytest.mark.server, pytest.mark.postgres]

CLIENTS = 24
ROUNDS = 8


def _day(days_ahead: int) -> datetime:
    """Midnight UTC some days ahead: every booking here is safely in the future."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today + timedelta(days=days_ahead)


def _booking(
    customer_id: int, title: str, start: datetime, minutes: int, site_ids: list[int]
) -> dict[str, Any]:
    return {
        "customer_id": customer_id,
        "title": title,
        "leader_name": "Lee Leader",
        "start": start.isoformat(),
        "end": (start + timedelta(minutes=minutes)).isoformat(),
        "sites": [{"site_id": site_id} for site_id in site_ids],
    }


def _overlapping_holds(sql: Any, site_ids: list[int]) -> list[tuple[Any, ...]]:
    """Pairs of held rows of the same site whose [start, end) ranges overlap."""
    return sql(
        """
        SELECT a.site_id, ca.number, cb.number
        FROM reservations_site_holds a
        JOIN reservations_site_holds b
          ON a.site_id = b.site_id AND a.id < b.id
         AND tstzrange(a.starts_at, a.ends_at, '[)') && tstzrange(b.starts_at, b.ends_at, '[)')
        JOIN reservations_conferences ca ON ca.id = a.conference_id
        JOIN reservations_conferences cb ON cb.id = b.conference_id
        WHERE a.held AND b.held AND a.site_id = ANY(%s)
        """,
        site_ids,
    )


def _stored_holds(sql: Any, site_ids: list[int]) -> dict[str, set[tuple[int, datetime, datetime]]]:
    """Conference number -> its held (site, start, end) rows, for these sites."""
    stored: dict[str, set[tuple[int, datetime, datetime]]] = {}
    for number, site_id, starts_at, ends_at in sql(
        """
        SELECT c.number, h.site_id, h.starts_at, h.ends_at
        FROM reservations_site_holds h JOIN reservations_conferences c ON c.id = h.conference_id
        WHERE h.held AND h.site_id = ANY(%s)
        """,
        site_ids,
    ):
        stored.setdefault(number, set()).add((site_id, starts_at, ends_at))
    return stored


def test_the_constraint_is_in_place_unless_deliberately_dropped(
    booking_service: BookingService,
) -> None:
    assert has_exclusion_constraint(booking_service.database_url) is not WITHOUT_EXCLUSION


def test_identical_bookings_from_many_clients_one_wins_each_round(
    booking_service: BookingService, sql: Any
) -> None:
    site_ids = booking_service.make_sites(2)
    customer_id = booking_service.customer_id
    plan = []
    for r in range(ROUNDS):
        body = _booking(customer_id, f"Board {r}", _day(30) + timedelta(hours=r), 60, site_ids)
        plan.append([body] * CLIENTS)

    with booking_service.scheduler_clients(CLIENTS) as clients:
        rounds = fire_together(clients, plan)

    # Every round is judged before failing, so a failure says how many rounds went wrong.
    statuses = [sorted(response.status_code for response in responses) for responses in rounds]
    wrong = {r: s for r, s in enumerate(statuses) if s != [201] + [409] * (CLIENTS - 1)}
    assert not wrong, f"{len(wrong)} of {ROUNDS} rounds did not have exactly one 201: {wrong}"
    overlapping = _overlapping_holds(sql, site_ids)
    assert overlapping == [], f"{len(overlapping)} overlapping pairs of held rows"

    winners = []
    for r, responses in enumerate(rounds):
        (won,) = [response.json() for response in responses if response.status_code == 201]
        winners.append(won["number"])
        for response in responses:
            if response.status_code == 409:
                conflicts = response.json()["conflicts"]
                assert sorted((c["site_id"], c["conference_number"]) for c in conflicts) == sorted(
                    (site_id, won["number"]) for site_id in site_ids
                ), f"round {r}: {conflicts}"
    assert sorted(_stored_holds(sql, site_ids)) == sorted(winners)


def test_random_overlapping_bookings_over_a_few_sites_never_double_book(
    booking_service: BookingService, sql: Any
) -> None:
    site_ids = booking_service.make_sites(3)
    customer_id = booking_service.customer_id
    rng = random.Random(20261121)
    # A small set of half-hour starts and lengths, so that most pairs of bookings collide.
    plan = []
    for r in range(ROUNDS):
        day = _day(60 + r) + timedelta(hours=9)
        plan.append(
            [
                _booking(
                    customer_id,
                    f"Random {r}.{i}",
                    day + timedelta(minutes=30 * rng.randrange(6)),
                    rng.choice((30, 60, 90)),
                    rng.sample(site_ids, rng.choice((1, 1, 2))),
                )
                for i in range(CLIENTS)
            ]
        )

    with booking_service.scheduler_clients(CLIENTS) as clients:
        rounds = fire_together(clients, plan)

    overlapping = _overlapping_holds(sql, site_ids)
    assert overlapping == [], f"{len(overlapping)} overlapping pairs of held rows: {overlapping}"
    stored = _stored_holds(sql, site_ids)
    booked: set[str] = set()
    refused = 0
    for r, (bodies, responses) in enumerate(zip(plan, rounds, strict=True)):
        for body, response in zip(bodies, responses, strict=True):
            assert response.status_code in (201, 409), f"round {r}: {response.text}"
            start = datetime.fromisoformat(body["start"])
            end = datetime.fromisoformat(body["end"])
            wanted = {site["site_id"] for site in body["sites"]}
            if response.status_code == 201:
                number = response.json()["number"]
                # A 201 is a stored conference holding exactly the sites and times asked for.
                assert stored.get(number) == {(site_id, start, end) for site_id in wanted}
                booked.add(number)
                continue
            refused += 1
            conflicts = response.json()["conflicts"]
            assert conflicts, response.text
            for conflict in conflicts:
                # A 409 names a stored booking that really holds one of these sites then.
                assert conflict["site_id"] in wanted
                held = stored.get(conflict["conference_number"], set())
                assert any(
                    site_id == conflict["site_id"] and held_start < end and held_end > start
                    for site_id, held_start, held_end in held
                ), f"{conflict} does not overlap {body}"
    # Refused bookings hold nothing: the stored conferences are exactly the 201s.
    assert set(stored) == booked
    assert booked and refused, "the plan should produce both winners and refusals"
