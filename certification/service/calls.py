"""Test calls through the bridge's SIP engine, the technician's sign-off, and upgrade requests.

A test is a probe the bridge's SIP workers run after the request commits (INVITE, answer
within a timeout, codec, a few seconds of media, BYE); its measures are copied onto the test
row when the probe is done, by the collecting job and by every read of the site's
certification, whichever comes first.
"""

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bridge.service import probes
from bridgedesk import isolation
from bridgedesk.clock import utcnow
from bridgedesk.errors import Conflict, Forbidden
from bridgedesk.identity import Actor, Role
from bridgedesk.settings import get_settings
from certification.models import (
    CertificationRecord,
    CertificationSignOff,
    CertificationState,
    CertificationTest,
    DeadlineKind,
    TestOutcome,
)
from certification.service import deadlines
from certification.service.records import (
    CERTIFIERS,
    SYSTEM_ACTOR,
    actor_label,
    audit,
    get_record,
    information_complete,
    lock_record,
    require_certifier,
    set_deadlines,
    set_state,
    site_zone,
)
from reservations.models import Site

PROBE_PURPOSE = "certification"
# States from which running a test call moves the site into `testing`; a certified site may
# be tested again without losing its certification.
STARTS_TESTING = frozenset(
    {
        CertificationState.REGISTERED,
        CertificationState.FAILED,
        CertificationState.RECERTIFICATION_REQUIRED,
        CertificationState.UPGRADE_PENDING,
    }
)
# A customer's scheduler may tell the provider about an upgrade of their own room.
UPGRADE_REQUESTERS = frozenset({Role.ADMIN, Role.OPERATOR, Role.TECHNICIAN, Role.SCHEDULER})


class SignOffRefused(Conflict):
    message = "A site is certified only after a passing test call."


class UpgradeRefused(Conflict):
    message = "An upgrade of this site is already pending."


async def request_test(session: AsyncSession, site_id: int, *, by: Actor) -> CertificationTest:
    """Queue a test call to the site; the result arrives once the SIP engine has run it."""
    require_certifier(by, "run test calls")
    site, _ = await get_record(session, site_id, by=by)
    record = await lock_record(session, site.id)
    settings = get_settings()
    probe = await probes.request_probe(
        session,
        sip_uri=site.sip_uri,
        method="INVITE",
        hold_seconds=settings.certification_media_seconds,
        purpose=PROBE_PURPOSE,
        answer_timeout_seconds=settings.certification_answer_timeout_seconds,
    )
    now = utcnow()
    test = CertificationTest(
        site_id=site.id,
        probe_id=probe.id,
        requested_by=actor_label(by),
        requested_at=now,
        sip_uri=site.sip_uri,
        outcome=TestOutcome.PENDING,
    )
    session.add(test)
    who = actor_label(by)
    audit(session, site.id, who, "test", None, f"requested (probe {probe.id}) to {site.sip_uri}")
    if record.registered_at is None:
        # A room is registered once a technician has put it on the bridge for a test call.
        record.registered_at = now
        audit(session, site.id, who, "registered_at", None, now)
    if record.state in STARTS_TESTING:
        await set_state(session, record, CertificationState.TESTING, actor=who)
    await session.flush()
    return test


async def collect_results(session: AsyncSession, site_id: int | None = None) -> int:
    """Copy finished probes' measures onto their pending tests; returns how many finished."""
    query = select(CertificationTest).where(CertificationTest.outcome == TestOutcome.PENDING)
    if site_id is not None:
        query = query.where(CertificationTest.site_id == site_id)
    pending = (await session.scalars(query.order_by(CertificationTest.id))).all()
    if not pending:
        return 0
    views = await probes.get_probes(session, [t.probe_id for t in pending])
    finished = 0

    async def collect(test: CertificationTest) -> None:
        nonlocal finished
        view = views.get(test.probe_id)
        if view is None or view.result is None:
            return
        record = await lock_record(session, test.site_id)
        await session.refresh(test, with_for_update=True)
        if test.outcome != TestOutcome.PENDING:
            return  # another request copied it while this one waited for the lock
        _copy_result(test, view.result)
        audit(
            session,
            test.site_id,
            SYSTEM_ACTOR,
            "test",
            "pending",
            describe(test),
            note=f"probe {test.probe_id}",
        )
        if test.outcome == TestOutcome.FAILED and record.state == CertificationState.TESTING:
            await set_state(
                session, record, CertificationState.FAILED, actor=SYSTEM_ACTOR, note=test.detail
            )
        await session.flush()
        finished += 1

    await isolation.each_in_savepoint(
        session,
        pending,
        collect,
        job="collect_certification_results",
        name=lambda test: f"certification test {test.id} (site {test.site_id})",
    )
    await session.flush()
    return finished


def _copy_result(test: CertificationTest, result: probes.ProbeResultView) -> None:
    # The probe judges answer, codec and media together; a call without a codec could not
    # carry a meeting, so it fails here even if the far end answered.
    passed = result.passed and result.codec is not None and result.media_seconds > 0
    test.outcome = TestOutcome.PASSED if passed else TestOutcome.FAILED
    test.final_status = result.final_status
    test.setup_ms = result.answer_ms
    test.codec = result.codec
    test.media_seconds = result.media_seconds
    test.cause = result.cause
    test.detail = result.detail or None
    if result.passed and not passed:
        test.detail = f"{result.detail}; no codec or no media seen".strip("; ")
    test.finished_at = result.finished_at


def describe(test: CertificationTest) -> str:
    parts = [str(test.outcome)]
    if test.final_status is not None:
        parts.append(f"SIP {test.final_status}")
    if test.setup_ms is not None:
        parts.append(f"setup {test.setup_ms:.0f} ms")
    if test.codec:
        parts.append(test.codec)
    if test.media_seconds is not None:
        parts.append(f"{test.media_seconds:.1f} s media")
    if test.cause and test.cause != "ok":
        parts.append(f"cause {test.cause}")
    if test.detail and test.outcome != TestOutcome.PASSED:
        parts.append(test.detail)
    return ", ".join(parts)


async def tests_of(session: AsyncSession, site_id: int) -> Sequence[CertificationTest]:
    return (
        await session.scalars(
            select(CertificationTest)
            .where(CertificationTest.site_id == site_id)
            .order_by(CertificationTest.requested_at.desc(), CertificationTest.id.desc())
        )
    ).all()


def sign_off_offered(
    by: Actor, record: CertificationRecord, tests: Sequence[CertificationTest]
) -> bool:
    """Whether the site's page offers a sign-off: a certifier, a site not yet certified and a
    latest test call (tests newest first) that passed; `sign_off` checks the rest."""
    return (
        by.role in CERTIFIERS
        and record.state != CertificationState.CERTIFIED
        and bool(tests)
        and tests[0].outcome == TestOutcome.PASSED
    )


async def sign_off(session: AsyncSession, site_id: int, *, by: Actor) -> CertificationRecord:
    """Certify the site: refused unless its latest test call, made in this cycle, passed."""
    require_certifier(by, "sign off certifications")
    site, _ = await get_record(session, site_id, by=by)
    await collect_results(session, site.id)
    record = await lock_record(session, site.id)
    if record.state == CertificationState.CERTIFIED:
        raise SignOffRefused(f"{site.name} is already certified.")
    if not information_complete(site):
        raise SignOffRefused(
            f"{site.name}'s information is incomplete (SIP URI, time zone, a technical contact)."
        )
    latest = await session.scalar(
        select(CertificationTest)
        .where(CertificationTest.site_id == site.id)
        .order_by(CertificationTest.requested_at.desc(), CertificationTest.id.desc())
        .limit(1)
    )
    if latest is None:
        raise SignOffRefused(f"{site.name} has no test call yet.")
    if latest.outcome == TestOutcome.PENDING:
        raise SignOffRefused("The latest test call has no result yet.")
    if latest.outcome != TestOutcome.PASSED:
        raise SignOffRefused(f"The latest test call failed: {describe(latest)}.")
    if (
        record.deadline_kind in (DeadlineKind.UPGRADE, DeadlineKind.RECERTIFICATION)
        and record.deadline_from is not None
        and latest.requested_at < record.deadline_from
    ):
        raise SignOffRefused("The latest passing test call predates the change to re-certify.")
    now = utcnow()
    who = actor_label(by)
    due = record.certify_by
    session.add(
        CertificationSignOff(
            site_id=site.id,
            test_id=latest.id,
            at=now,
            by=who,
            deadline_kind=record.deadline_kind,
            deadline=due,
            on_time=due is None or now <= due,
        )
    )
    audit(session, site.id, who, "signed_off_by", record.signed_off_by, who)
    record.signed_off_by = who
    record.certified_at = now
    if record.first_certified_at is None:
        record.first_certified_at = now
    record.upgrade_requested_at = None
    await set_state(session, record, CertificationState.CERTIFIED, actor=who, note=describe(latest))
    await session.flush()
    return record


async def request_upgrade(
    session: AsyncSession, site_id: int, *, by: Actor, note: str | None = None
) -> CertificationRecord:
    """An upgrade to a certified site, to be applied (and re-tested) by the local midnight."""
    if by.role not in UPGRADE_REQUESTERS:
        raise Forbidden("Your role may not request upgrades.")
    site, _ = await get_record(session, site_id, by=by)
    record = await lock_record(session, site.id)
    if record.state == CertificationState.UPGRADE_PENDING:
        raise UpgradeRefused(f"An upgrade of {site.name} is already pending.")
    now = utcnow()
    who = actor_label(by)
    if record.state != CertificationState.CERTIFIED:
        # Not certified yet: the upgrade is simply part of the certification still to come.
        record.upgrade_requested_at = now
        record.upgrade_note = note
        audit(
            session,
            site.id,
            who,
            "upgrade_requested_at",
            None,
            now,
            note=f"{note + '; ' if note else ''}part of the pending certification ({record.state})",
        )
        await session.flush()
        return record
    await start_upgrade(session, record, site, actor=who, note=note)
    return record


async def start_upgrade(
    session: AsyncSession,
    record: CertificationRecord,
    site: Site,
    *,
    actor: str,
    note: str | None,
) -> None:
    """A certified site changes: it must pass a test call again by the next local midnight."""
    now = utcnow()
    record.upgrade_requested_at = now
    record.upgrade_note = note
    audit(session, site.id, actor, "upgrade_requested_at", None, now, note=note)
    await set_deadlines(
        session,
        record,
        DeadlineKind.UPGRADE,
        now,
        None,
        deadlines.upgrade_due(now, site_zone(site)),
        actor=actor,
    )
    await set_state(session, record, CertificationState.UPGRADE_PENDING, actor=actor, note=note)
    await session.flush()


async def overview(
    session: AsyncSession, site_id: int, *, by: Actor
) -> tuple[Site, CertificationRecord, Sequence[CertificationTest]]:
    """The site, its record and its tests (newest first), with finished results copied in."""
    site, _ = await get_record(session, site_id, by=by)
    await collect_results(session, site.id)
    record = await session.get(CertificationRecord, site.id)
    assert record is not None
    return site, record, await tests_of(session, site.id)
