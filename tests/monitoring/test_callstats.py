"""Call statistics: the arithmetic over the bridge's records as a pure function (hand-made
records), and the same month through the real bridge services and the API."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import time_machine

from bridge.models import Incident, Launch, Leg, LegAttempt
from bridgedesk.identity import Role
from monitoring.service.callstats import ConferenceFact, call_statistics

T = datetime(2027, 6, 10, 14, 0, tzinfo=UTC)
S = timedelta(seconds=1)
M = timedelta(minutes=1)


@dataclass(frozen=True)
class Attempt:
    conference_id: int
    site_id: int
    purpose: str
    requested_at: datetime
    connected_at: datetime | None
    ended_at: datetime | None
    cause: str


@dataclass(frozen=True)
class LaunchRow:
    conference_id: int
    scheduled_start: datetime
    all_connected_at: datetime | None
    on_time: bool | None


@dataclass(frozen=True)
class IncidentRow:
    began_at: datetime
    restored_at: datetime | None
    audio_fallback_at: datetime | None = None


def ok(conference: int, site: int, at: datetime, purpose: str = "launch") -> Attempt:
    return Attempt(conference, site, purpose, at, at + 10 * S, at + 60 * M, "ok")


def failed(conference: int, site: int, cause: str, purpose: str = "launch") -> Attempt:
    return Attempt(conference, site, purpose, T, None, T + 30 * S, cause)


def test_a_hand_computed_month():
    # 50 calls: 46 connected, 4 failed (2 network, 1 client hardware, 1 reservations),
    # and one still ringing that is not counted yet.
    attempts = [ok(1, site, T) for site in range(46)]
    attempts += [failed(1, 100, "network"), failed(1, 101, "network")]
    attempts += [failed(1, 102, "client_hardware"), failed(1, 103, "reservations")]
    attempts.append(Attempt(1, 104, "launch", T, None, None, "pending"))
    # Add-site: one connected after 3 minutes (after a failed first dial), one after 7.
    attempts += [
        Attempt(2, 7, "add_site", T, None, T + M, "network"),
        Attempt(2, 7, "add_site", T + M, T + 3 * M, None, "ok"),
        Attempt(2, 8, "add_site", T, T + 7 * M, None, "ok"),
    ]
    launches = [LaunchRow(c, T, T + M, True) for c in range(10, 108)]
    launches += [
        LaunchRow(200, T, T + 4 * M, False),  # late but all in within 5 min: restored
        LaunchRow(201, T, T + 9 * M, False),  # late and not restored in time
        LaunchRow(202, T, None, None),  # undecided: not judged
    ]
    incidents = [IncidentRow(T, T + 2 * M), IncidentRow(T, T + 5 * M), IncidentRow(T, None)]
    adhoc = [
        ConferenceFact(10, True, T - 4 * M, T + M),  # connected at T+1min: by ready_by
        ConferenceFact(11, True, T - 10 * M, T - 5 * M),  # promised 5 min, took 11
        ConferenceFact(12, False, T - 9 * M, None),
    ]
    stats = call_statistics(adhoc, attempts, launches, incidents)

    # The add-site dials count as calls too: 50 + 3 = 53, failed 4 + 1 = 5 -> 9.43 %.
    assert (stats.calls, stats.failed_calls) == (53, 5)
    assert str(stats.failure_rate_pct) == "9.43" and stats.failure_met is False
    by_cause = {c.cause: c.count for c in stats.failures_by_cause}
    assert by_cause == {
        "client_not_synchronized": 0,
        "network": 3,
        "client_hardware": 1,
        "reservations": 1,
        "technical_support": 0,
    }
    assert (stats.customer_side_failures, stats.provider_side_failures) == (4, 1)
    # 98 on time of 100 judged.
    assert (stats.launches, stats.launches_decided, stats.launches_on_time) == (101, 100, 98)
    assert str(stats.on_time_pct) == "98.00" and stats.on_time_met is False
    # Recovery: 3 incidents + 2 late launches; restored under 5 min: the 2-minute incident
    # and the 4-minute late launch (exactly 5 minutes is not "under 5").
    assert (stats.recovery_events, stats.restored_within_5_min) == (5, 2)
    assert str(stats.restored_pct) == "40.00"
    assert stats.add_site is not None
    assert (stats.add_site.count, stats.add_site.within_target) == (2, 1)
    assert stats.add_site.median_seconds == 300.0  # 3 min and 7 min
    assert stats.adhoc is not None
    assert (stats.adhoc.count, stats.adhoc.connected, stats.adhoc.within_target) == (2, 2, 1)
    assert stats.adhoc.max_seconds == 11 * 60


def test_an_empty_month_has_no_rates_rather_than_zero():
    stats = call_statistics([], [], [], [])
    assert stats.calls == 0 and stats.failure_rate_pct is None and stats.failure_met is None
    assert stats.on_time_pct is None


def test_a_cause_outside_the_published_list_is_shown_not_dropped():
    stats = call_statistics([], [ok(1, 1, T), failed(1, 2, "codec_mismatch")], [], [])
    assert {c.cause: c.count for c in stats.failures_by_cause}["codec_mismatch"] == 1


async def test_the_month_through_the_bridge_services_and_the_api(
    db, make_customer, make_site, make_conference, client_as
):
    customer = await make_customer(timezone="America/New_York")
    site_a = await make_site(customer=customer)
    site_b = await make_site(customer=customer)
    with time_machine.travel(T - timedelta(days=5), tick=False):
        conference = await make_conference(sites=[site_a, site_b], start=T, end=T + 60 * M)
    # Another customer's call in the same month must not count.
    stranger = await make_site()
    with time_machine.travel(T - timedelta(days=5), tick=False):
        other = await make_conference(sites=[stranger], start=T, end=T + 60 * M)
    for conf, site_ids in ((conference, [site_a.id, site_b.id]), (other, [stranger.id])):
        db.add(
            Launch(
                conference_id=conf.id,
                scheduled_start=T,
                scheduled_end=T + 60 * M,
                launched_at=T,
                all_connected_at=T + 3 * M,
                on_time=False,
            )
        )
        for site_id in site_ids:
            leg = Leg(
                conference_id=conf.id,
                site_id=site_id,
                kind="video",
                origin="launch",
                sip_uri="sip:x@127.0.0.1",
                speed_kbps=768,
                state="connected",
                created_at=T,
                state_changed_at=T,
            )
            db.add(leg)
            await db.flush()
            if site_id == site_b.id:
                db.add(
                    LegAttempt(
                        leg_id=leg.id,
                        conference_id=conf.id,
                        site_id=site_id,
                        purpose="launch",
                        requested_at=T,
                        ended_at=T + 30 * S,
                        final_status=408,
                        cause="network",
                    )
                )
                db.add(
                    Incident(
                        leg_id=leg.id,
                        conference_id=conf.id,
                        site_id=site_id,
                        kind="failed",
                        cause="network",
                        began_at=T + 30 * S,
                        recovery_deadline=T + 330 * S,
                        restored_at=T + 3 * M,
                    )
                )
                requested = T + 30 * S
            else:
                requested = T
            db.add(
                LegAttempt(
                    leg_id=leg.id,
                    conference_id=conf.id,
                    site_id=site_id,
                    purpose="launch" if requested == T else "redial",
                    requested_at=requested,
                    connected_at=requested + 20 * S,
                    final_status=200,
                    cause="ok",
                )
            )
    await db.flush()
    with time_machine.travel(T + timedelta(days=30), tick=False):
        scheduler = await client_as(Role.SCHEDULER, customer_id=customer.id)
        response = await scheduler.get(
            f"/api/v1/call-stats?month=2027-06&customer_id={customer.id}"
        )
        assert response.status_code == 200, response.text
        stats = response.json()
        outsider = await client_as(Role.SCHEDULER)
        refused = await outsider.get(f"/api/v1/call-stats?month=2027-06&customer_id={customer.id}")
    assert refused.status_code == 404
    assert stats["timezone"] == "America/New_York"
    assert (stats["calls"], stats["failed_calls"], stats["failure_rate_pct"]) == (3, 1, 33.33)
    assert {c["cause"]: c["count"] for c in stats["failures_by_cause"]}["network"] == 1
    assert (stats["launches_decided"], stats["launches_on_time"]) == (1, 0)
    # The failed leg came back in 2.5 minutes and the late launch was whole at 3 minutes.
    assert (stats["recovery_events"], stats["restored_within_5_min"]) == (2, 2)


def test_drops_not_back_within_the_window_are_counted_with_their_audio_links():
    incidents = [
        IncidentRow(T, T + 2 * M),  # back in 2 minutes: no audio link was due
        IncidentRow(T, T + 7 * M, T + 5 * M),  # back after 7, its audio link at 5
        IncidentRow(T, None, T + 5 * M),  # never back, audio link at 5
        IncidentRow(T, None),  # never back and no audio link (the site has none)
    ]
    stats = call_statistics([], [], [], incidents)
    assert (stats.drops_past_window, stats.drops_with_audio_link) == (3, 2)
