"""Confirming bookings: by an operator or automatically, the queue ordered by deadline, and the
job that flags slipped deadlines and tells operators exactly once."""

from datetime import UTC, datetime, timedelta

import time_machine
from sqlalchemy import select

from bridgedesk.clock import utcnow
from bridgedesk.identity import Role
from bridgedesk.models import OutboxMessage
from bridgedesk.settings import get_settings
from reservations.jobs import flag_overdue_confirmations_job
from reservations.models import Conference, ConferenceStatus
from tests.payloads import conference_body

T0 = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)  # customers below are on UTC unless said


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def _overdue_emails(db) -> list[OutboxMessage]:
    return list(
        (
            await db.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.topic == "confirmation_overdue")
                .order_by(OutboxMessage.id)
            )
        ).all()
    )


async def test_operator_confirms_a_booking(db, client_as, make_conference):
    with time_machine.travel(T0, tick=False):
        conference = await make_conference(start=T0 + timedelta(days=3))
        operator = await client_as(Role.OPERATOR, name="Olga Operator")
    with time_machine.travel(T0 + timedelta(minutes=20), tick=False):
        response = await operator.post(f"/api/v1/conferences/{conference.id}/confirm")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "confirmed"
        assert _at(body["confirmed_at"]) == T0 + timedelta(minutes=20)
        assert body["confirmed_by"] == "Olga Operator"
        # It stays confirmed, and leaves the queue.
        again = (await operator.get(f"/api/v1/conferences/{conference.id}")).json()
        assert again["status"] == "confirmed" and again["confirmed_by"] == "Olga Operator"
        queue = (await operator.get("/api/v1/confirmations")).json()
        assert conference.id not in [item["id"] for item in queue["items"]]


async def test_confirming_twice_or_a_cancelled_booking_is_409(db, client_as, make_conference):
    with time_machine.travel(T0, tick=False):
        conference = await make_conference(start=T0 + timedelta(days=3))
        cancelled = await make_conference(start=T0 + timedelta(days=4))
        operator = await client_as(Role.OPERATOR)
        first = await operator.post(f"/api/v1/conferences/{conference.id}/confirm")
        assert first.status_code == 200
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        second = await operator.post(f"/api/v1/conferences/{conference.id}/confirm")
        assert second.status_code == 409
        assert "confirmed" in second.json()["detail"]
        # The first confirmation stands untouched.
        current = (await operator.get(f"/api/v1/conferences/{conference.id}")).json()
        assert _at(current["confirmed_at"]) == T0
        await operator.post(f"/api/v1/conferences/{cancelled.id}/cancel")
        refused = await operator.post(f"/api/v1/conferences/{cancelled.id}/confirm")
        assert refused.status_code == 409
        assert (await operator.get(f"/api/v1/conferences/{cancelled.id}")).json()[
            "status"
        ] == "cancelled"


async def test_queue_is_ordered_by_deadline_and_filters_overdue(db, client_as, make_conference):
    with time_machine.travel(T0, tick=False):
        # Booked in an order unlike their deadlines.
        week_ahead = await make_conference(start=T0 + timedelta(days=10))  # due T0 + 8 h
        today = await make_conference(start=T0 + timedelta(hours=3))  # due T0 + 1 h
        soon = await make_conference(start=T0 + timedelta(minutes=30))  # due at its start
        days_ahead = await make_conference(start=T0 + timedelta(days=3))  # due T0 + 4 h
        confirmed = await make_conference(start=T0 + timedelta(hours=5))
        operator = await client_as(Role.OPERATOR)
        await operator.post(f"/api/v1/conferences/{confirmed.id}/confirm")

    expected = [soon, today, days_ahead, week_ahead]
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        queue = (await operator.get("/api/v1/confirmations")).json()
    assert [item["id"] for item in queue["items"]] == [c.id for c in expected]
    assert [_at(item["confirmation_due"]) for item in queue["items"]] == [
        T0 + timedelta(minutes=30),
        T0 + timedelta(hours=1),
        T0 + timedelta(hours=4),
        T0 + timedelta(hours=8),
    ]
    assert queue["total"] == 4

    # Exactly at a deadline the booking is not yet overdue; a second later it is.
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        overdue = (await operator.get("/api/v1/confirmations?overdue=true")).json()
    assert [item["id"] for item in overdue["items"]] == [soon.id]
    with time_machine.travel(T0 + timedelta(hours=1, seconds=1), tick=False):
        overdue = (await operator.get("/api/v1/confirmations?overdue=true")).json()
        every = (await operator.get("/api/v1/confirmations")).json()
    assert [item["id"] for item in overdue["items"]] == [soon.id, today.id]
    assert all(item["overdue"] for item in overdue["items"])
    assert [item["overdue"] for item in every["items"]] == [True, True, False, False]


async def test_flagging_overdue_bookings_tells_operators_once(db, make_conference):
    with time_machine.travel(T0, tick=False):
        today = await make_conference(start=T0 + timedelta(hours=3))  # due T0 + 1 h
        later = await make_conference(start=T0 + timedelta(days=10))  # due T0 + 8 h
        settled = await make_conference(start=T0 + timedelta(hours=2))  # due T0 + 1 h
        settled.status = ConferenceStatus.CANCELLED
        await db.flush()

    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        assert await flag_overdue_confirmations_job() == 0  # due now is not yet late

    with time_machine.travel(T0 + timedelta(hours=2), tick=False):
        assert await flag_overdue_confirmations_job() == 1
        [email] = await _overdue_emails(db)
        assert email.recipients == [get_settings().operators_email]
        assert today.number in email.subject
        await db.refresh(today)
        assert today.overdue_flagged_at == T0 + timedelta(hours=2)
        # Running it again changes nothing: no new flag, no second email.
        assert await flag_overdue_confirmations_job() == 0
        assert len(await _overdue_emails(db)) == 1
        await db.refresh(today)
        assert today.overdue_flagged_at == T0 + timedelta(hours=2)

    with time_machine.travel(T0 + timedelta(hours=9), tick=False):
        assert await flag_overdue_confirmations_job() == 1
        emails = await _overdue_emails(db)
        assert len(emails) == 2 and later.number in emails[1].subject
        assert await flag_overdue_confirmations_job() == 0
        assert len(await _overdue_emails(db)) == 2
    await db.refresh(settled)
    assert settled.overdue_flagged_at is None


async def test_a_booking_confirmed_in_time_is_never_flagged(db, client_as, make_conference):
    with time_machine.travel(T0, tick=False):
        conference = await make_conference(start=T0 + timedelta(hours=3))
        operator = await client_as(Role.OPERATOR)
        assert (await operator.post(f"/api/v1/conferences/{conference.id}/confirm")).is_success
    with time_machine.travel(T0 + timedelta(hours=2), tick=False):
        assert await flag_overdue_confirmations_job() == 0
    assert await _overdue_emails(db) == []


async def test_bookings_whose_sites_are_all_certified_are_confirmed_automatically(
    db, client_as, make_customer, make_site
):
    customer = await make_customer()
    certified = [
        await make_site(customer=customer, certification_state="certified") for _ in range(2)
    ]
    testing = await make_site(customer=customer, certification_state="testing")
    with time_machine.travel(T0, tick=False):
        api = await client_as(Role.SCHEDULER, customer_id=customer.id)

        async def book(sites, start):
            response = await api.post(
                "/api/v1/conferences",
                json=conference_body(customer.id, [s.id for s in sites], start, title="Auto"),
            )
            assert response.status_code == 201, response.text
            return response.json()

        automatic = await book(certified, T0 + timedelta(hours=3))
        mixed = await book([*certified, testing], T0 + timedelta(days=1))
    assert automatic["status"] == "confirmed"
    assert automatic["confirmed_by"] == "automatic"
    assert _at(automatic["confirmed_at"]) == T0
    assert mixed["status"] == "requested"
    assert mixed["confirmed_by"] is None and mixed["confirmed_at"] is None

    stored = await db.get(Conference, automatic["id"])
    assert stored is not None and stored.confirmed_by == "automatic"
    # Past both deadlines only the booking still waiting for an operator is flagged.
    with time_machine.travel(T0 + timedelta(hours=2), tick=False):
        assert await flag_overdue_confirmations_job() == 1
    [email] = await _overdue_emails(db)
    assert mixed["number"] in email.subject


async def test_a_meeting_that_is_over_leaves_the_queue(db, make_conference, client_as):
    start = utcnow() + timedelta(hours=2)
    conference = await make_conference(start=start, end=start + timedelta(hours=1))
    with time_machine.travel(start + timedelta(minutes=30), tick=False):
        api = await client_as(Role.OPERATOR)
        during = (await api.get("/api/v1/confirmations")).json()["items"]
        assert [c["id"] for c in during] == [conference.id]
    with time_machine.travel(start + timedelta(hours=1, minutes=1), tick=False):
        api = await client_as(Role.OPERATOR)
        assert (await api.get("/api/v1/confirmations")).json()["items"] == []
