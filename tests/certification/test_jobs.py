"""Certification's scheduled work: results collected, technicians warned once per deadline over
real SMTP, and the monthly share of sites certified within their deadline."""

from datetime import UTC, datetime, timedelta

import time_machine

from bridgedesk.app.jobs import send_outbox_job
from bridgedesk.identity import Role
from bridgedesk.settings import get_settings
from certification.jobs import collect_test_results_job, warn_before_deadlines_job
from tests.certification.probes import busy, finish_probe
from tests.certification.test_api import site_body

REGISTERED = datetime(2027, 6, 1, 8, 0, tzinfo=UTC)


async def test_the_collecting_job_copies_results_without_anyone_looking(
    db, make_customer, client_as
):
    customer = await make_customer()
    tech = await client_as(Role.TECHNICIAN)
    site_id = (await tech.post("/api/v1/sites", json=site_body(customer.id))).json()["id"]
    test = (await tech.post(f"/api/v1/sites/{site_id}/certification/tests")).json()
    assert await collect_test_results_job() == 0  # the engine has not run it yet
    await busy(db, test["probe_id"])
    assert await collect_test_results_job() == 1
    assert await collect_test_results_job() == 0  # copied once
    body = (await tech.get(f"/api/v1/sites/{site_id}/certification")).json()
    assert body["state"] == "failed" and body["tests"][0]["final_status"] == 486
    history = (await tech.get(f"/api/v1/sites/{site_id}/history")).json()["items"]
    assert [(h["before"], h["after"]) for h in history if h["field"] == "state"] == [
        ("registered", "testing"),
        ("testing", "failed"),
    ]


async def test_technicians_are_warned_once_before_each_deadline(
    db, make_customer, client_as, smtp_server
):
    customer = await make_customer()
    tech = await client_as(Role.TECHNICIAN)
    with time_machine.travel(REGISTERED, tick=False):
        site_id = (
            await tech.post("/api/v1/sites", json=site_body(customer.id, name="Fjord Room"))
        ).json()["id"]
    # Register by 2 June 08:00; the warning goes out 4 hours before, not earlier.
    with time_machine.travel(REGISTERED + timedelta(hours=19), tick=False):
        assert await warn_before_deadlines_job() == 0
    with time_machine.travel(REGISTERED + timedelta(hours=20, minutes=1), tick=False):
        assert await warn_before_deadlines_job() == 1
        assert await warn_before_deadlines_job() == 0  # once per deadline
        await send_outbox_job()
    [(to, message)] = smtp_server.mailbox.with_subject("Fjord Room")
    assert to == [get_settings().technicians_email]
    assert "due soon" in message["Subject"]
    assert "registered by 2027-06-02 08:00 UTC" in message.get_content()
    assert f"/certification/sites/{site_id}" in message.get_content()

    # Once registered (a test call was made), the certification deadline is the next one.
    with time_machine.travel(REGISTERED + timedelta(hours=21), tick=False):
        await tech.post(f"/api/v1/sites/{site_id}/certification/tests")
    with time_machine.travel(REGISTERED + timedelta(hours=49), tick=False):
        assert await warn_before_deadlines_job() == 1
        await send_outbox_job()
    overdue = smtp_server.mailbox.with_subject("overdue")
    assert len(overdue) == 1
    assert "certified by 2027-06-03 08:00 UTC" in overdue[0][1].get_content()


async def test_monthly_share_of_sites_certified_within_their_deadline(db, make_customer, client_as):
    customer = await make_customer()
    tech = await client_as(Role.TECHNICIAN)
    with time_machine.travel(REGISTERED, tick=False):
        on_time = (await tech.post("/api/v1/sites", json=site_body(customer.id, name="A"))).json()
        late = (await tech.post("/api/v1/sites", json=site_body(customer.id, name="B"))).json()
        for site in (on_time, late):
            probe = (await tech.post(f"/api/v1/sites/{site['id']}/certification/tests")).json()
            await finish_probe(db, probe["probe_id"])
    with time_machine.travel(REGISTERED + timedelta(hours=47), tick=False):
        assert (
            await tech.post(f"/api/v1/sites/{on_time['id']}/certification/sign-off")
        ).status_code == 200
    with time_machine.travel(REGISTERED + timedelta(hours=49), tick=False):
        assert (
            await tech.post(f"/api/v1/sites/{late['id']}/certification/sign-off")
        ).status_code == 200
    stats = await tech.get("/api/v1/certification/stats", params={"month": "2027-06"})
    assert stats.status_code == 200, stats.text
    assert stats.json() == {
        "month": "2027-06",
        "certified": 2,
        "on_time": 1,
        "late": 1,
        "share_on_time": 0.5,
    }
    empty = (await tech.get("/api/v1/certification/stats", params={"month": "2027-07"})).json()
    assert (empty["certified"], empty["share_on_time"]) == (0, None)
    for bad in ("2027-13", "June", "2027-6"):
        refused = await tech.get("/api/v1/certification/stats", params={"month": bad})
        assert refused.status_code == 422, bad
