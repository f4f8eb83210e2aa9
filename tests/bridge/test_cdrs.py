"""Importing an external MCU's call detail records (all or nothing, every bad record named)
and reading them back within the reader's customer; on SQLite and on PostgreSQL."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bridge.models import CallRecord
from bridgedesk.identity import Role
from tests.snapshots import snapshot

T0 = datetime(2026, 10, 5, 14, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """The all-or-nothing and overlap rules must hold on both databases."""
    return str(request.param)


async def records_snapshot(db) -> dict:
    """Every watched row of the shell and reservations, and every call record."""
    state = await snapshot(db)
    rows = await db.execute(
        select(
            CallRecord.id,
            CallRecord.site_id,
            CallRecord.connected_at,
            CallRecord.disconnected_at,
            CallRecord.conference_id,
        ).order_by(CallRecord.id)
    )
    state["bridge_call_records"] = [tuple(r) for r in rows]
    return state


class Held:
    """A recorded (already held) conference of customer A with two sites, and strangers."""

    def __init__(self, number, conference_id, customer_id, site_ids, other_site_id, spare):
        self.number = number
        self.conference_id = conference_id
        self.customer_id = customer_id
        self.site_ids = site_ids
        self.other_site_id = other_site_id
        self.spare_site_id = spare


@pytest.fixture
async def held(db, make_customer, make_site, make_actor, make_conference):
    customer = await make_customer()
    first = await make_site(customer=customer)
    second = await make_site(customer=customer)
    spare = await make_site(customer=customer)
    other = await make_site()  # another customer's
    operator = await make_actor(Role.OPERATOR)
    conference = await make_conference(
        sites=[first, second], start=T0, end=T0 + timedelta(hours=2), record=True, by=operator
    )
    return Held(
        conference.number, conference.id, customer.id, [first.id, second.id], other.id, spare.id
    )


def rec(held: Held, site: int, start_min: float, end_min: float, **extra) -> dict:
    return {
        "conference_number": held.number,
        "site_id": site,
        "connected_at": (T0 + timedelta(minutes=start_min)).isoformat(),
        "disconnected_at": (T0 + timedelta(minutes=end_min)).isoformat(),
        "speed_kbps": 768,
        **extra,
    }


async def test_an_operator_imports_records_and_each_customer_reads_only_its_own(
    db, held, client_as, make_customer
):
    operator = await client_as(Role.OPERATOR)
    a, b = held.site_ids
    body = {
        "records": [
            rec(held, a, 0, 50, disconnect_cause="normal"),
            rec(held, a, 50, 120),  # back to back with the first: fine
            rec(held, b, 1, 119),
        ]
    }
    answer = await operator.post("/api/v1/cdrs", json=body)
    assert answer.status_code == 201, answer.text
    assert answer.json() == {"stored": 3}

    listed = (await operator.get("/api/v1/cdrs", params={"conference_number": held.number})).json()
    items = listed["items"]
    assert [(r["site_id"], datetime.fromisoformat(r["connected_at"])) for r in items] == [
        (a, T0),
        (b, T0 + timedelta(minutes=1)),
        (a, T0 + timedelta(minutes=50)),
    ]
    assert {r["source"] for r in items} == {"import"}
    assert listed["items"][0]["disconnect_cause"] == "normal"
    assert listed["items"][0]["customer_id"] == held.customer_id

    by_site = await operator.get("/api/v1/cdrs", params={"site_id": b})
    assert [r["site_id"] for r in by_site.json()["items"]] == [b]
    window = await operator.get(
        "/api/v1/cdrs",
        params={
            "from": (T0 + timedelta(minutes=1)).isoformat(),
            "to": (T0 + timedelta(minutes=51)).isoformat(),
        },
    )
    assert [(r["site_id"]) for r in window.json()["items"]] == [b, a]

    own = await client_as(Role.BILLING, customer_id=held.customer_id)
    assert len((await own.get("/api/v1/cdrs")).json()["items"]) == 3
    stranger = await client_as(Role.SCHEDULER, customer_id=(await make_customer()).id)
    assert (await stranger.get("/api/v1/cdrs")).json()["items"] == []
    naive = await operator.get("/api/v1/cdrs", params={"from": "2026-10-05T14:00:00"})
    assert naive.status_code == 422
    backwards = await operator.get(
        "/api/v1/cdrs", params={"from": T0.isoformat(), "to": T0.isoformat()}
    )
    assert (backwards.status_code, backwards.json()["detail"]) == (
        422,
        "`to` must be after `from`.",
    )
    nul = await operator.get("/api/v1/cdrs", params={"conference_number": "C-\x00"})
    assert nul.status_code == 422 and "NUL" in nul.json()["detail"]


async def test_a_batch_with_bad_records_is_refused_whole_naming_each_one(db, held, client_as):
    operator = await client_as(Role.OPERATOR)
    a, b = held.site_ids
    await operator.post("/api/v1/cdrs", json={"records": [rec(held, a, 0, 30)]})
    before = await records_snapshot(db)
    records = [
        rec(held, b, 0, 10),  # 0: good
        rec(held, a, 20, 40),  # 1: overlaps the stored one
        rec(held, b, 10, 5),  # 2: ends before it starts
        {**rec(held, b, 20, 30), "connected_at": "2026-10-05T14:20:00"},  # 3: naive
        rec(held, held.other_site_id, 0, 10),  # 4: another customer's site
        {**rec(held, b, 20, 30), "conference_number": "C-2026-999999"},  # 5: no such
        rec(held, b, 5, 15),  # 6: overlaps record 0
        rec(held, b, 0, 10),  # 7: repeats record 0
        rec(held, b, 40, 50, speed_kbps=0),  # 8: speed out of range
        rec(held, held.spare_site_id, 0, 10),  # 9: not in the conference
        "not a record",  # 10
        rec(held, a, 0, 30),  # 11: repeats the stored one
        rec(held, b, -61, 10),  # 12: joined more than an hour early
        rec(held, b, 60, 120 + 12 * 60 + 1),  # 13: left more than 12 hours late
    ]
    answer = await operator.post("/api/v1/cdrs", json={"records": records})
    assert answer.status_code == 422, answer.text
    errors = answer.json()["errors"]
    assert [e["index"] for e in errors] == list(range(1, 14))
    reasons = {e["index"]: e["reason"] for e in errors}
    assert "overlaps stored record" in reasons[1]
    assert "after connected_at" in reasons[2]
    assert "timezone" in reasons[3].lower()
    assert "customer" in reasons[4]
    assert "no conference C-2026-999999" in reasons[5]
    assert "overlaps record 0" in reasons[6]
    assert "repeats record 0" in reasons[7]
    assert "speed_kbps" in reasons[8]
    assert "does not take part" in reasons[9]
    assert "JSON object" in reasons[10]
    assert "repeats stored record" in reasons[11]
    assert "outside conference" in reasons[12] and "outside conference" in reasons[13]
    assert await records_snapshot(db) == before


async def test_ten_thousand_records_are_one_batch_and_one_more_is_refused(db, held, client_as):
    operator = await client_as(Role.OPERATOR)
    a, b = held.site_ids

    def many(count: int) -> list[dict]:
        # 5,000 back-to-back one-second records per site (inside the meeting's two hours).
        return [
            {
                "conference_number": held.number,
                "site_id": (a, b)[i % 2],
                "connected_at": (T0 + timedelta(seconds=i // 2)).isoformat(),
                "disconnected_at": (T0 + timedelta(seconds=i // 2 + 1)).isoformat(),
                "speed_kbps": 384,
            }
            for i in range(count)
        ]

    before = await records_snapshot(db)
    too_many = await operator.post("/api/v1/cdrs", json={"records": many(10_001)})
    assert too_many.status_code == 422
    assert await records_snapshot(db) == before
    answer = await operator.post("/api/v1/cdrs", json={"records": many(10_000)})
    assert answer.status_code == 201, answer.text
    assert answer.json() == {"stored": 10_000}
    listed = await operator.get("/api/v1/cdrs", params={"limit": 10_000})
    assert len(listed.json()["items"]) == 10_000


async def test_only_operators_and_admins_import(db, held, client_as):
    a, _ = held.site_ids
    for role in (Role.FINANCE, Role.TECHNICIAN):
        client = await client_as(role)
        answer = await client.post("/api/v1/cdrs", json={"records": [rec(held, a, 0, 1)]})
        assert answer.status_code == 403
    scheduler = await client_as(Role.SCHEDULER, customer_id=held.customer_id)
    answer = await scheduler.post("/api/v1/cdrs", json={"records": [rec(held, a, 0, 1)]})
    assert answer.status_code == 403
    assert (await db.scalars(select(CallRecord))).all() == []


async def test_an_empty_batch_and_a_batch_that_is_not_a_list_are_422(db, held, client_as):
    operator = await client_as(Role.OPERATOR)
    for body in ({"records": []}, {"records": "x"}, {}, {"records": [None]}):
        answer = await operator.post("/api/v1/cdrs", json=body)
        assert answer.status_code == 422, (body, answer.text)
    far = rec(held, held.site_ids[0], 0, 1, connected_at="9999-12-31T23:00:00-05:00")
    answer = await operator.post("/api/v1/cdrs", json={"records": [far]})
    assert answer.status_code == 422
    nul = {**rec(held, held.site_ids[0], 0, 1), "conference_number": "C-\x00"}
    answer = await operator.post("/api/v1/cdrs", json={"records": [nul]})
    assert answer.status_code == 422


async def test_a_record_overlapping_a_stored_one_of_its_site_refuses_the_batch(db, held, client_as):
    operator = await client_as(Role.OPERATOR)
    a, b = held.site_ids
    first = await operator.post("/api/v1/cdrs", json={"records": [rec(held, a, 10, 20)]})
    assert first.status_code == 201
    before = await records_snapshot(db)
    batch = [rec(held, b, 0, 30), rec(held, a, 19, 25)]
    answer = await operator.post("/api/v1/cdrs", json={"records": batch})
    assert answer.status_code == 422, answer.text
    [error] = answer.json()["errors"]
    assert error["index"] == 1
    assert "overlaps stored record" in error["reason"]
    assert await records_snapshot(db) == before
    # Back to back with the stored one is no overlap.
    batch = [rec(held, b, 0, 30), rec(held, a, 20, 25), rec(held, a, 5, 10)]
    assert (await operator.post("/api/v1/cdrs", json={"records": batch})).status_code == 201
