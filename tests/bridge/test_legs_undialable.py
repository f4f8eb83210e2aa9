"""A site whose address may not be dialed (a row written past the rule, or a gateway the
provider has since removed) fails its own leg with a cause; the launch of its conference and
of every other conference goes on (SPEC §5 "Isolation", "What may be dialed")."""

from datetime import UTC, datetime, timedelta

import time_machine
from sqlalchemy import select

from bridge.jobs import launch_due_conferences_job, supervise_legs_job
from bridge.models import Dial, Incident, LegAttempt
from bridgedesk.auth import actor_of
from bridgedesk.identity import Role
from tests.bridge.calls import legs_of

T0 = datetime(2031, 5, 6, 9, 0, tzinfo=UTC)


async def at(moment: datetime, job=supervise_legs_job) -> int:
    with time_machine.travel(moment, tick=False):
        return await job()


async def test_an_undialable_site_fails_its_leg_with_a_cause_and_the_others_are_dialed(
    db, make_customer, make_site, make_user, make_conference
):
    customer = await make_customer()
    # Written straight into the registry (the API refuses both): no gateway is configured, and
    # 169.254/16 is denied by default.
    phone = await make_site(customer=customer, name="Phone", sip_uri="tel:+15550100")
    metadata = await make_site(customer=customer, name="Meta", sip_uri="sip:x@169.254.169.254")
    board = await make_site(customer=customer, name="Boardroom", sip_uri="sip:board@10.0.0.7")
    other = await make_site(customer=customer, name="Other", sip_uri="sip:other@10.0.0.8")
    scheduler = await make_user(Role.SCHEDULER, customer_id=customer.id)
    with time_machine.travel(T0 - timedelta(days=2), tick=False):
        mixed = await make_conference(
            sites=[phone, metadata, board], start=T0, end=T0 + timedelta(hours=1),
            by=actor_of(scheduler),
        )  # fmt: skip
        healthy = await make_conference(
            sites=[other], start=T0, end=T0 + timedelta(hours=1), by=actor_of(scheduler)
        )
    assert await at(T0, launch_due_conferences_job) == 2
    bad_phone, bad_meta, good = await legs_of(db, mixed.id)
    [elsewhere] = await legs_of(db, healthy.id)
    dials = {
        d.id: d
        for d in (await db.scalars(select(Dial).execution_options(populate_existing=True))).all()
    }
    assert dials[good.dial_id].status == dials[elsewhere.dial_id].status == "queued"
    # The bad legs are failed at once with the provider's cause and the policy's reason; no
    # call is asked for, and nothing about them waits or retries.
    for leg, reason in ((bad_phone, "PSTN_GATEWAY"), (bad_meta, "does not call")):
        assert (leg.state, leg.cause, leg.dial_id) == ("failed", "technical_support", None)
        assert leg.detail is not None and reason in leg.detail
        attempt = await db.scalar(select(LegAttempt).where(LegAttempt.leg_id == leg.id))
        assert attempt is not None
        assert (attempt.cause, attempt.end_reason) == ("technical_support", "undialable")
    await at(T0 + timedelta(seconds=1))
    bad_phone, bad_meta, good = await legs_of(db, mixed.id)
    assert bad_phone.state == "failed" and bad_phone.dial_id is None
    assert good.state == "dialing"
    # The provider's fault, never the site's network: no incident that would recertify it.
    assert await db.scalar(select(Incident).where(Incident.leg_id == bad_phone.id)) is None
