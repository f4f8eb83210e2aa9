"""Moving and cancelling meetings through the API: one meeting, or it and the rest of its
series; across DST, into conflicts, and the deadlines and confirmations that follow."""

from datetime import UTC, datetime, timedelta

from bridgedesk.identity import Role
from tests.payloads import conference_body
from tests.reservations.test_series import (  # noqa: F401 (frozen_time: the same clock)
    FIRST,
    NOW,
    booker,
    frozen_time,
    weekly,
)


async def test_cancel_one_occurrence_or_the_rest(db, make_customer, make_site, client_as):
    customer, site, api = await booker(make_customer, make_site, client_as)
    body = (await api.post("/api/v1/conferences", json=weekly(customer.id, [site.id]))).json()
    ids = [o["id"] for o in body["occurrences"]]
    one = await api.post(f"/api/v1/conferences/{ids[1]}/cancel")
    assert one.status_code == 200 and one.json()["status"] == "cancelled"
    rest = await api.post(f"/api/v1/conferences/{ids[2]}/cancel", json={"scope": "following"})
    assert rest.status_code == 200
    series = (await api.get(f"/api/v1/series/{body['series_id']}")).json()
    assert [o["status"] for o in series["occurrences"]] == [
        "requested",
        "cancelled",
        "cancelled",
        "cancelled",
    ]


async def test_move_one_occurrence_and_its_slot_is_free_again(
    db, make_customer, make_site, client_as
):
    customer, site, api = await booker(make_customer, make_site, client_as)
    body = (await api.post("/api/v1/conferences", json=weekly(customer.id, [site.id]))).json()
    second = body["occurrences"][1]
    new_start = datetime.fromisoformat(second["start"]) + timedelta(hours=3)
    moved = await api.patch(
        f"/api/v1/conferences/{second['id']}",
        json={
            "start": new_start.isoformat(),
            "end": (new_start + timedelta(hours=1)).isoformat(),
        },
    )
    assert moved.status_code == 200, moved.text
    assert datetime.fromisoformat(moved.json()["items"][0]["start"]) == new_start
    # The old slot is free again; the new one is taken.
    old = datetime.fromisoformat(second["start"])
    free = await api.post(
        "/api/v1/conferences",
        json=conference_body(customer.id, [site.id], old, title="Fill", leader_name="F"),
    )
    assert free.status_code == 201
    taken = await api.post(
        "/api/v1/conferences",
        json=conference_body(customer.id, [site.id], new_start, title="Clash", leader_name="C"),
    )
    assert taken.status_code == 409


async def test_move_following_shifts_the_rest_and_refuses_into_a_conflict(
    db, make_customer, make_site, client_as
):
    customer, site, api = await booker(make_customer, make_site, client_as)
    body = (await api.post("/api/v1/conferences", json=weekly(customer.id, [site.id]))).json()
    occurrences = body["occurrences"]
    # Occupy the slot 2 hours after the last meeting.
    last = datetime.fromisoformat(occurrences[3]["start"])
    await api.post(
        "/api/v1/conferences",
        json=conference_body(
            customer.id, [site.id], last + timedelta(hours=2), title="Later", leader_name="L"
        ),
    )
    second = datetime.fromisoformat(occurrences[1]["start"])
    refused = await api.patch(
        f"/api/v1/conferences/{occurrences[1]['id']}",
        json=_move(second + timedelta(hours=2), scope="following"),
    )
    assert refused.status_code == 409
    shifted = await api.patch(
        f"/api/v1/conferences/{occurrences[1]['id']}",
        json=_move(second + timedelta(minutes=30), scope="following"),
    )
    assert shifted.status_code == 200, shifted.text
    starts = [datetime.fromisoformat(c["start"]) for c in shifted.json()["items"]]
    assert starts == [
        datetime.fromisoformat(o["start"]) + timedelta(minutes=30) for o in occurrences[1:]
    ]


def _single(customer_id, site_ids, start):
    return conference_body(customer_id, site_ids, start, title="Single", leader_name="S")


def _move(start, scope="this", hours=1):
    return {
        "start": start.isoformat(),
        "end": (start + timedelta(hours=hours)).isoformat(),
        "scope": scope,
    }


async def _series_starts(api, series_id):
    occurrences = (await api.get(f"/api/v1/series/{series_id}")).json()["occurrences"]
    return {o["id"]: datetime.fromisoformat(o["start"]) for o in occurrences}


async def test_moving_the_following_from_a_cancelled_meeting_is_refused(
    db, make_customer, make_site, client_as
):
    customer, site, api = await booker(make_customer, make_site, client_as)
    body = (await api.post("/api/v1/conferences", json=weekly(customer.id, [site.id]))).json()
    pivot = body["occurrences"][1]
    await api.post(f"/api/v1/conferences/{pivot['id']}/cancel")
    before = await _series_starts(api, body["series_id"])
    start = datetime.fromisoformat(pivot["start"]) + timedelta(hours=2)
    refused = await api.patch(
        f"/api/v1/conferences/{pivot['id']}", json=_move(start, scope="following")
    )
    assert refused.status_code == 409
    assert "cancelled" in refused.json()["detail"]
    assert await _series_starts(api, body["series_id"]) == before


async def test_moving_the_following_keeps_the_new_local_time_across_dst(
    db, make_customer, make_site, client_as
):
    customer, site, api = await booker(make_customer, make_site, client_as)
    body = (await api.post("/api/v1/conferences", json=weekly(customer.id, [site.id]))).json()
    # The second Monday (09:00 EST) moves a week on, to 09:00 EDT; the later ones follow.
    pivot = body["occurrences"][1]
    moved = await api.patch(
        f"/api/v1/conferences/{pivot['id']}",
        json=_move(datetime(2027, 3, 15, 13, 0, tzinfo=UTC), scope="following"),
    )
    assert moved.status_code == 200, moved.text
    assert [datetime.fromisoformat(c["start"]) for c in moved.json()["items"]] == [
        datetime(2027, 3, 15, 13, 0, tzinfo=UTC),
        datetime(2027, 3, 22, 13, 0, tzinfo=UTC),  # not 12:00Z (08:00 EDT), a shift in UTC
        datetime(2027, 3, 29, 13, 0, tzinfo=UTC),
    ]


async def test_this_and_following_means_by_position_in_the_series_not_by_time(
    db, make_customer, make_site, client_as
):
    customer, site, api = await booker(make_customer, make_site, client_as)
    body = (await api.post("/api/v1/conferences", json=weekly(customer.id, [site.id]))).json()
    ids = [o["id"] for o in body["occurrences"]]
    # Meeting 2 moved after meeting 4; meeting 4 moved before meeting 3.
    late = datetime(2027, 3, 23, 13, 0, tzinfo=UTC)
    early = datetime(2027, 3, 14, 13, 0, tzinfo=UTC)
    assert (await api.patch(f"/api/v1/conferences/{ids[1]}", json=_move(late))).status_code == 200
    assert (await api.patch(f"/api/v1/conferences/{ids[3]}", json=_move(early))).status_code == 200

    third = datetime(2027, 3, 15, 13, 0, tzinfo=UTC)
    moved = await api.patch(
        f"/api/v1/conferences/{ids[2]}",
        json=_move(third + timedelta(hours=1), scope="following"),
    )
    assert moved.status_code == 200, moved.text
    assert [c["id"] for c in moved.json()["items"]] == [ids[2], ids[3]]
    starts = await _series_starts(api, body["series_id"])
    assert starts[ids[1]] == late
    assert starts[ids[3]] == early + timedelta(hours=1)

    cancelled = await api.post(f"/api/v1/conferences/{ids[2]}/cancel", json={"scope": "following"})
    assert cancelled.status_code == 200
    occurrences = (await api.get(f"/api/v1/series/{body['series_id']}")).json()["occurrences"]
    assert {o["id"]: o["status"] for o in occurrences} == {
        ids[0]: "requested",
        ids[1]: "requested",
        ids[2]: "cancelled",
        ids[3]: "cancelled",
    }


async def test_a_moved_meeting_takes_the_bridge_chosen_for_its_new_time(
    db, make_customer, make_site, make_bridge, client_as
):
    first_bridge, second_bridge = await make_bridge(), await make_bridge()
    customer, site, api = await booker(make_customer, make_site, client_as)
    other = await make_site(customer=customer)
    body = (await api.post("/api/v1/conferences", json=weekly(customer.id, [site.id]))).json()
    second = body["occurrences"][1]
    assert (await api.get(f"/api/v1/conferences/{second['id']}")).json()["bridge_id"] == (
        first_bridge.id
    )
    # At noon the first bridge is busier, so a meeting moved there belongs on the second.
    noon = datetime(2027, 3, 8, 17, 0, tzinfo=UTC)
    busy = await api.post("/api/v1/conferences", json=_single(customer.id, [other.id], noon))
    assert busy.json()["bridge_id"] == first_bridge.id
    moved = await api.patch(f"/api/v1/conferences/{body['occurrences'][1]['id']}", json=_move(noon))
    assert moved.status_code == 200, moved.text
    assert moved.json()["items"][0]["bridge_id"] == second_bridge.id


async def test_a_moved_meeting_of_certified_sites_is_confirmed_again_automatically(
    db, make_customer, make_site, client_as
):
    customer = await make_customer(timezone="America/New_York")
    site = await make_site(customer=customer, certification_state="certified")
    api = await client_as(Role.SCHEDULER, customer_id=customer.id)
    body = (await api.post("/api/v1/conferences", json=weekly(customer.id, [site.id]))).json()
    assert {o["status"] for o in body["occurrences"]} == {"confirmed"}
    start = datetime.fromisoformat(body["occurrences"][1]["start"]) + timedelta(hours=2)
    moved = await api.patch(
        f"/api/v1/conferences/{body['occurrences'][1]['id']}",
        json=_move(start, scope="following"),
    )
    assert moved.status_code == 200, moved.text
    assert [(c["status"], c["confirmed_by"]) for c in moved.json()["items"]] == [
        ("confirmed", "automatic")
    ] * 3


async def test_the_first_booked_meeting_keeps_the_lead_time_deadline_when_moved(
    db, make_customer, make_site, client_as
):
    customer, site, api = await booker(make_customer, make_site, client_as)
    blocker = await api.post("/api/v1/conferences", json=_single(customer.id, [site.id], FIRST))
    assert blocker.status_code == 201
    body = (
        await api.post(
            "/api/v1/conferences", json=weekly(customer.id, [site.id], skip_conflicts=True)
        )
    ).json()
    first_booked, second_booked = body["occurrences"][:2]
    # The first Monday was taken: the second is the series' first booked meeting.
    assert [s["index"] for s in body["skipped"]] == [0]
    assert datetime.fromisoformat(first_booked["confirmation_due"]) == NOW + timedelta(hours=8)
    assert datetime.fromisoformat(second_booked["confirmation_due"]) == NOW + timedelta(hours=48)
    for occurrence, rule in (
        (first_booked, timedelta(hours=8)),
        (second_booked, timedelta(hours=48)),
    ):
        start = datetime.fromisoformat(occurrence["start"]) + timedelta(hours=2)
        moved = await api.patch(f"/api/v1/conferences/{occurrence['id']}", json=_move(start))
        assert moved.status_code == 200, moved.text
        assert datetime.fromisoformat(moved.json()["items"][0]["confirmation_due"]) == NOW + rule


async def test_a_move_that_would_make_meetings_of_the_series_overlap_is_refused(
    db, make_customer, make_site, client_as
):
    customer, site, api = await booker(make_customer, make_site, client_as)
    saturday = datetime(2027, 3, 6, 14, 0, tzinfo=UTC)  # 09:00 EST, a week before the jump
    payload = weekly(customer.id, [site.id], start=saturday, rule="FREQ=DAILY;COUNT=3")
    payload["end"] = (saturday + timedelta(hours=23, minutes=30)).isoformat()
    body = (await api.post("/api/v1/conferences", json=payload)).json()
    # A week on, Saturday's meeting would run until 09:30 EDT, past Sunday's 09:00 start: the
    # clocks jump that night.
    refused = await api.patch(
        f"/api/v1/conferences/{body['occurrences'][0]['id']}",
        json=_move(saturday + timedelta(days=7), scope="following", hours=23.5),
    )
    assert refused.status_code == 422
    assert "overlap each other" in refused.json()["detail"]
