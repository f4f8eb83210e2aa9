"""Demo certification states (`bridgedesk demo`): sites certified, one under test, one waiting
for recertification. The demo places no calls, so its test calls are recorded as measured
figures marked as demo data rather than run through the SIP engine."""

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bridgedesk.clock import utcnow
from bridgedesk.identity import Actor
from certification.models import CertificationState, CertificationTest, TestOutcome
from certification.service import calls, recertification
from certification.service.records import actor_label, audit, ensure_records, lock_record, set_state

DEMO_NOTE = "demo data: no call was placed"


async def _passing_test(session: AsyncSession, site_id: int, sip_uri: str, by: Actor) -> None:
    now = utcnow()
    record = await lock_record(session, site_id)
    who = actor_label(by)
    session.add(
        CertificationTest(
            site_id=site_id,
            probe_id=0,
            requested_by=who,
            requested_at=now - timedelta(seconds=5),
            sip_uri=sip_uri,
            outcome=TestOutcome.PASSED,
            final_status=200,
            setup_ms=38.0,
            codec="PCMU/8000",
            media_seconds=3.0,
            cause="ok",
            detail=DEMO_NOTE,
            finished_at=now,
        )
    )
    audit(session, site_id, who, "test", None, "passed, SIP 200, PCMU/8000", note=DEMO_NOTE)
    record.registered_at = record.registered_at or now
    await set_state(session, record, CertificationState.TESTING, actor=who)
    await session.flush()


async def load_demo_states(
    session: AsyncSession,
    *,
    certified: Sequence[tuple[int, str]],
    testing: Sequence[tuple[int, str]],
    recertify: Sequence[tuple[int, str]],
    by: Actor,
) -> None:
    """Sites given as (id, SIP URI); `recertify` ones are certified, then had a network drop."""
    await ensure_records(session)
    for site_id, uri in (*certified, *recertify):
        await _passing_test(session, site_id, uri, by)
        await calls.sign_off(session, site_id, by=by)
    for site_id, uri in testing:
        await _passing_test(session, site_id, uri, by)
    for site_id, _ in recertify:
        record = await lock_record(session, site_id)
        await recertification.require_recertification(
            session,
            record,
            utcnow() - timedelta(hours=2),
            actor="bridgedesk",
            note=f"leg dropped (cause network) in a conference; {DEMO_NOTE}",
        )
    await session.flush()
