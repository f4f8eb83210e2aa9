"""The bridge's jobs: launch dials every site once at the start (on time or late, retried when
no one answers), sites added or freed later are dialed, and a conference ends only when its
last site leaves."""

from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from bridge.jobs import launch_due_conferences_job
from bridge.models import CallRecord, Dial, Incident, Launch
from bridge.service.leg_states import LegState
from reservations.jobs import extend_overruns_job
from reservations.models import Conference, Customer, Site
from reservations.service import live
from reservations.service.booking import SiteRequest
from tests.bridge.calls import connect, end, legs_of
from tests.bridge.launches import (
    HOUR,
    T0,
    launched_and_connected,
    make_actor_at,
    run,
)

pytestmark = pytest.mark.usefixtures("recovery_settings")


async def test_launch_dials_every_site_once_at_the_start_and_records_an_on_time_launch(
    db, conference
):
    assert await run(T0 - timedelta(seconds=1), launch_due_conferences_job) == 0
    assert await run(T0 + timedelta(seconds=1), launch_due_conferences_job) == 1
    assert await run(T0 + timedelta(seconds=5), launch_due_conferences_job) == 0
    board, lab = await legs_of(db, conference.id)
    assert [(leg.state, leg.kind, leg.sip_uri) for leg in (board, lab)] == [
        ("dialing", "video", "sip:board@127.0.0.1"),
        ("dialing", "video", "sip:lab@127.0.0.1"),
    ]
    dials = (await db.scalars(select(Dial).order_by(Dial.id))).all()
    assert [(d.sip_uri, d.purpose, d.leg_id) for d in dials] == [
        ("sip:board@127.0.0.1", "launch", board.id),
        ("sip:lab@127.0.0.1", "launch", lab.id),
    ]
    await db.refresh(conference)
    assert conference.status == "live"

    await connect(db, board, T0 + timedelta(seconds=20))
    await run(T0 + timedelta(seconds=21))
    launch = await db.scalar(select(Launch).where(Launch.conference_id == conference.id))
    assert launch.on_time is None  # one site still ringing, 2 minutes not over
    await connect(db, lab, T0 + timedelta(seconds=100))
    await run(T0 + timedelta(seconds=101))
    await db.refresh(launch)
    assert launch.on_time is True
    assert launch.all_connected_at == T0 + timedelta(seconds=100)
    assert [leg.state for leg in await legs_of(db, conference.id)] == ["connected", "connected"]
    # Nothing new from the engine: nothing changes.
    assert await run(T0 + timedelta(seconds=102)) == 0


async def test_a_launch_with_a_site_connected_after_two_minutes_is_late(db, conference):
    await run(T0, launch_due_conferences_job)
    board, lab = await legs_of(db, conference.id)
    await connect(db, board, T0 + timedelta(seconds=5))
    await run(T0 + timedelta(seconds=121))
    launch = await db.scalar(select(Launch).where(Launch.conference_id == conference.id))
    await db.refresh(launch)
    assert launch.on_time is False
    await connect(db, lab, T0 + timedelta(seconds=130))
    await run(T0 + timedelta(seconds=131))
    await db.refresh(launch)
    assert (launch.on_time, launch.all_connected_at) == (False, T0 + timedelta(seconds=130))


async def test_a_connected_conference_is_not_cut_at_its_end_and_ends_when_the_last_site_leaves(
    db, conference
):
    board, lab = await launched_and_connected(db, conference)
    end_at = T0 + timedelta(hours=1)
    # Reservations' overrun job gives the live conference 15 more minutes near its end.
    await run(end_at - timedelta(minutes=4), extend_overruns_job)
    await run(end_at + timedelta(minutes=5))
    assert [leg.state for leg in await legs_of(db, conference.id)] == ["connected", "connected"]
    await db.refresh(conference)
    assert conference.status == "live"

    await end(db, board, end_at + timedelta(minutes=6), "remote_bye")
    await run(end_at + timedelta(minutes=6, seconds=1))
    board, lab = await legs_of(db, conference.id)
    assert (board.state, lab.state) == (LegState.ENDED, LegState.CONNECTED)
    assert (await db.scalars(select(Incident))).all() == []
    await end(db, lab, end_at + timedelta(minutes=8), "remote_bye")
    await run(end_at + timedelta(minutes=8, seconds=1))
    await db.refresh(conference)
    assert conference.status == "ended"
    assert conference.ends_at == end_at + timedelta(minutes=8)
    assert len((await db.scalars(select(CallRecord))).all()) == 2


async def test_a_launch_that_no_site_answers_is_retried_and_counted_as_failed_calls(db, conference):
    await run(T0, launch_due_conferences_job)
    board, _lab = await legs_of(db, conference.id)
    await end(
        db,
        board,
        T0 + timedelta(seconds=30),
        "failed",
        final_status=486,
        cause=("client_not_synchronized"),
    )
    await run(T0 + timedelta(seconds=31))
    board, _ = await legs_of(db, conference.id)
    assert board.state == LegState.DROPPED
    assert board.next_dial_at == T0 + timedelta(seconds=41)
    incident = await db.scalar(select(Incident))
    assert (incident.kind, incident.cause) == ("failed", "client_not_synchronized")
    await run(T0 + timedelta(seconds=41))
    board, _ = await legs_of(db, conference.id)
    assert board.state == LegState.RECONNECTING
    assert (await db.get(Dial, board.dial_id)).purpose == "redial"
    await db.refresh(conference)
    assert (await db.get(Conference, conference.id)).status == "live"


async def test_a_site_still_in_an_overrunning_meeting_is_dialed_into_the_next_once_it_leaves(
    db, conference, make_conference
):
    board_site = await db.get(Site, conference.sites[0].site_id)
    end_at = T0 + timedelta(hours=1)
    with time_machine.travel(T0 - timedelta(days=1), tick=False):
        following = await make_conference(sites=[board_site], start=end_at, end=end_at + HOUR)
    await launched_and_connected(db, conference)
    await run(end_at - timedelta(minutes=4), extend_overruns_job)

    await run(end_at + timedelta(seconds=1), launch_due_conferences_job)
    [waiting] = await legs_of(db, following.id)
    assert (waiting.state, waiting.dial_id) == ("dialing", None)
    await run(end_at + timedelta(seconds=30))
    [waiting] = await legs_of(db, following.id)
    assert waiting.dial_id is None  # the Boardroom is still in the first meeting

    board, _lab = await legs_of(db, conference.id)
    await end(db, board, end_at + timedelta(minutes=2), "remote_bye")
    await run(end_at + timedelta(minutes=2, seconds=1))
    await run(end_at + timedelta(minutes=2, seconds=12))
    [dialed] = await legs_of(db, following.id)
    assert dialed.dial_id is not None
    assert (await db.get(Dial, dialed.dial_id)).purpose == "launch"


async def test_a_site_added_to_a_running_conference_is_dialed(db, conference, make_site):
    await run(T0, launch_due_conferences_job)
    for leg in await legs_of(db, conference.id):
        await connect(db, leg, T0 + timedelta(seconds=3))
    extra = await make_site(
        customer=await db.get(Customer, conference.customer_id),
        name="Annex",
        sip_uri="sip:annex@127.0.0.1",
    )
    operator = await make_actor_at(db, T0 + timedelta(minutes=5))
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        await live.add_site(db, conference.id, SiteRequest(extra.id), by=operator)
    await run(T0 + timedelta(minutes=5, seconds=1))
    annex = (await legs_of(db, conference.id))[-1]
    assert (annex.site_id, annex.origin, annex.state) == (extra.id, "add_site", "dialing")
    assert (await db.get(Dial, annex.dial_id)).purpose == "add_site"
    await run(T0 + timedelta(minutes=5, seconds=2))
    assert len(await legs_of(db, conference.id)) == 3  # dialed once
