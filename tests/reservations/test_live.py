"""Overruns that are never cut, and sites added to a booked or running conference."""

from datetime import timedelta

from sqlalchemy import select

from bridgedesk.clock import utcnow
from bridgedesk.identity import Role
from bridgedesk.models import OutboxMessage
from reservations.models import ConferenceStatus, SiteHold
from reservations.service import live
from reservations.service.booking import SiteRequest
from tests.payloads import conference_body


async def test_extending_into_a_later_booking_succeeds_lists_it_and_tells_both_schedulers(
    db, make_customer, make_site, make_user, client_as
):
    customer = await make_customer()
    shared = await make_site(customer=customer, name="Shared room")
    first_scheduler = await make_user(Role.SCHEDULER, customer_id=customer.id)
    second_scheduler = await make_user(Role.SCHEDULER, customer_id=customer.id)
    first_api = await client_as(first_scheduler)
    second_api = await client_as(second_scheduler)
    start = utcnow() + timedelta(hours=3)

    def body(s, title):
        return conference_body(customer.id, [shared.id], s, title=title, leader_name="L")

    running = (await first_api.post("/api/v1/conferences", json=body(start, "Running"))).json()
    later = (
        await second_api.post("/api/v1/conferences", json=body(start + timedelta(hours=1), "Later"))
    ).json()

    extended = await first_api.post(
        f"/api/v1/conferences/{running['id']}/extend", json={"minutes": 30}
    )
    assert extended.status_code == 200, extended.text
    result = extended.json()
    assert result["end"].startswith((start + timedelta(minutes=90)).isoformat()[:16])
    assert [(c["conference_number"], c["site_id"]) for c in result["overrun_conflicts"]] == [
        (later["number"], shared.id)
    ]
    # The later booking stands and the running one's hold stops where the later one begins.
    assert (await second_api.get(f"/api/v1/conferences/{later['id']}")).json()["status"] == (
        "requested"
    )
    holds = (
        await db.scalars(
            select(SiteHold).where(SiteHold.site_id == shared.id).order_by(SiteHold.starts_at)
        )
    ).all()
    assert holds[0].ends_at == holds[1].starts_at
    notes = (
        await db.scalars(select(OutboxMessage).where(OutboxMessage.topic == "overrun_conflict"))
    ).all()
    assert len(notes) == 1
    assert set(notes[0].recipients) == {
        first_scheduler.email,
        second_scheduler.email,
        "operators@localhost",
    }


async def test_extension_into_free_time_holds_the_site(db, make_conference, make_site, client_as):
    site = await make_site()
    conference = await make_conference(sites=[site])
    api = await client_as(Role.OPERATOR)
    response = await api.post(f"/api/v1/conferences/{conference.id}/extend", json={"minutes": 45})
    assert response.status_code == 200
    assert response.json()["overrun_conflicts"] == []
    scheduler = await client_as(Role.SCHEDULER, customer_id=site.customer_id)
    start = conference.ends_at - timedelta(minutes=10)
    clash = await scheduler.post(
        "/api/v1/conferences",
        json=conference_body(
            site.customer_id, [site.id], start, minutes=30, title="x", leader_name="y"
        ),
    )
    assert clash.status_code == 409


async def test_live_conference_is_extended_automatically_before_its_end(db, make_conference):
    conference = await make_conference(
        start=utcnow() + timedelta(minutes=1), end=utcnow() + timedelta(minutes=4)
    )
    await live.mark_live(db, conference.id)
    scheduled_end = conference.ends_at
    assert await live.extend_running_overruns(db, lead=timedelta(minutes=5)) == 1
    assert conference.ends_at == scheduled_end + timedelta(minutes=15)
    # Running the job again right away changes nothing: it is idempotent.
    assert await live.extend_running_overruns(db, lead=timedelta(minutes=5)) == 0
    assert conference.status == ConferenceStatus.LIVE


async def test_add_site_when_free_and_409_when_busy(
    db, make_customer, make_site, make_conference, client_as
):
    customer = await make_customer()
    a, b, c = [await make_site(customer=customer) for _ in range(3)]
    conference = await make_conference(sites=[a])
    await make_conference(sites=[c], start=conference.starts_at, end=conference.ends_at)
    api = await client_as(Role.SCHEDULER, customer_id=customer.id)
    added = await api.post(f"/api/v1/conferences/{conference.id}/sites", json={"site_id": b.id})
    assert added.status_code == 200, added.text
    assert {s["site_id"] for s in added.json()["sites"]} == {a.id, b.id}
    busy = await api.post(f"/api/v1/conferences/{conference.id}/sites", json={"site_id": c.id})
    assert busy.status_code == 409
    assert busy.json()["conflicts"][0]["site_id"] == c.id
    again = await api.post(f"/api/v1/conferences/{conference.id}/sites", json={"site_id": b.id})
    assert again.status_code == 409


async def test_site_added_to_a_live_conference_is_held_from_now(
    db, make_site, make_conference, make_actor
):
    site = await make_site()
    other = await make_site(customer_id=site.customer_id)
    conference = await make_conference(sites=[site], start=utcnow() + timedelta(minutes=1))
    await live.mark_live(db, conference.id)
    operator = await make_actor(Role.OPERATOR)

    await live.add_site(db, conference.id, SiteRequest(other.id), by=operator)
    hold = next(h for h in conference.sites if h.site_id == other.id)
    assert hold.added_at is not None
    assert hold.starts_at == max(hold.added_at, conference.starts_at)


async def test_a_booking_not_yet_started_keeps_the_24_hour_limit_when_extended(
    db, make_conference, client_as
):
    start = utcnow() + timedelta(days=2)
    conference = await make_conference(start=start, end=start + timedelta(hours=23))
    api = await client_as(Role.OPERATOR)
    fine = await api.post(f"/api/v1/conferences/{conference.id}/extend", json={"minutes": 60})
    assert fine.status_code == 200
    too_long = await api.post(f"/api/v1/conferences/{conference.id}/extend", json={"minutes": 1})
    assert too_long.status_code == 422
    assert (
        (await api.get(f"/api/v1/conferences/{conference.id}"))
        .json()["end"]
        .startswith((start + timedelta(hours=24)).isoformat()[:16])
    )


async def test_a_late_overrun_job_extends_from_now_not_from_the_missed_end(db, make_conference):
    import time_machine

    start = utcnow() + timedelta(minutes=1)
    conference = await make_conference(start=start, end=start + timedelta(minutes=30))
    await live.mark_live(db, conference.id)
    # The worker was down: the job first runs 20 minutes after the scheduled end.
    late = start + timedelta(minutes=50)
    with time_machine.travel(late, tick=False):
        assert await live.extend_running_overruns(db, lead=timedelta(minutes=5)) == 1
        assert conference.ends_at == late + timedelta(minutes=15)
        assert all(hold.ends_at == late + timedelta(minutes=15) for hold in conference.sites)
        assert await live.extend_running_overruns(db, lead=timedelta(minutes=5)) == 0
