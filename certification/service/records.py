"""Each site's certification record: entering the workflow, its states, deadlines and audit trail.

Sites are registered by reservations (`POST /api/v1/sites`), which cannot call certification.
So every certification query and job first runs `ensure_records`, which gives each site
without a record one (idempotent: a site has at most one record, its primary key). A site
whose required information was complete when it was registered counts it as received at the
site's `created_at`, however late the record is made.

Deadlines are stored, not computed on read, so the queue and the site's page always agree;
they are set when their cycle begins (information complete, upgrade asked, network fault)
and never moved afterwards: a site's rollout position k is taken when its information
arrives, so certifying earlier sites never shortens a later site's deadline.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bridgedesk.clock import utcnow
from bridgedesk.errors import Forbidden
from bridgedesk.identity import Actor, Role
from certification.models import (
    CertificationHistory,
    CertificationRecord,
    CertificationState,
    DeadlineKind,
)
from certification.service import deadlines
from reservations.models import Site, SiteKind
from reservations.service import registry

# Provider staff who run test calls, sign off, import sites and work the queue.
CERTIFIERS = frozenset({Role.ADMIN, Role.OPERATOR, Role.TECHNICIAN})
# Who registered a site through reservations' API is not known to certification.
REGISTRY_ACTOR = "site registry"
SYSTEM_ACTOR = "bridgedesk"


def require_certifier(by: Actor, what: str) -> None:
    if by.role not in CERTIFIERS:
        raise Forbidden(f"Only technicians, operators and admins {what}.")


def actor_label(by: Actor) -> str:
    return f"{by.name} <{by.email}>"


def information_complete(site: Site) -> bool:
    """SPEC §4: the SIP URI, the time zone and at least one technical contact."""
    return bool(site.sip_uri and site.timezone and site.contacts)


def audit(
    session: AsyncSession,
    site_id: int,
    actor: str,
    field: str,
    before: Any,
    after: Any,
    *,
    note: str | None = None,
    at: datetime | None = None,
) -> None:
    session.add(
        CertificationHistory(
            site_id=site_id,
            at=at or utcnow(),
            actor=actor,
            field=field,
            before=_text(before),
            after=_text(after),
            note=note,
        )
    )


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list):
        return "; ".join(_contact_text(v) if isinstance(v, dict) else str(v) for v in value)
    return str(value)


def _contact_text(contact: dict[str, Any]) -> str:
    details = ", ".join(f"{k} {v}" for k, v in contact.items() if v and k != "name")
    name = str(contact.get("name", "?"))
    return f"{name} ({details})" if details else name


async def ensure_records(session: AsyncSession) -> int:
    """Give every site that has none a certification record; returns how many were made."""
    for _attempt in range(3):
        missing = (
            await session.scalars(
                select(Site)
                .outerjoin(CertificationRecord, CertificationRecord.site_id == Site.id)
                .where(CertificationRecord.site_id.is_(None))
                .order_by(Site.created_at, Site.id)
            )
        ).all()
        if not missing:
            return 0
        try:
            async with session.begin_nested():
                await open_records(session, missing, actor=REGISTRY_ACTOR)
        except IntegrityError:
            # Another request made some of them first (its insert won the primary key);
            # once it has committed, look again for the ones still without a record.
            continue
        return len(missing)
    return 0


async def open_records(
    session: AsyncSession, sites: Sequence[Site], *, actor: str, at: datetime | None = None
) -> list[CertificationRecord]:
    """Records for newly registered sites (in order), each registered at `at` or its
    `created_at`; the rollout positions of a batch follow one another."""
    made = []
    awaiting: dict[int, int] = {}
    for site in sites:
        record = CertificationRecord(
            site_id=site.id,
            customer_id=site.customer_id,
            state=site.certification_state or CertificationState.REGISTERED,
            created_at=utcnow(),
        )
        session.add(record)
        when = at or site.created_at
        audit(
            session,
            site.id,
            actor,
            "site",
            None,
            f"{site.name} ({site.kind}, {site.timezone}, {site.sip_uri})",
            note="site registered",
            at=when,
        )
        if information_complete(site):
            if site.customer_id not in awaiting:
                awaiting[site.customer_id] = await _awaiting_first_certification(
                    session, site.customer_id
                )
            awaiting[site.customer_id] += 1
            await _information_received(
                session, record, site, actor=actor, at=when, position=awaiting[site.customer_id]
            )
        made.append(record)
    await session.flush()
    return made


async def _awaiting_first_certification(session: AsyncSession, customer_id: int) -> int:
    """How many of the customer's sites with complete information await first certification."""
    await session.flush()
    return (
        await session.scalar(
            select(func.count())
            .select_from(CertificationRecord)
            .where(
                CertificationRecord.customer_id == customer_id,
                CertificationRecord.first_certified_at.is_(None),
                CertificationRecord.info_received_at.is_not(None),
            )
        )
        or 0
    )


async def mark_information_received(
    session: AsyncSession, record: CertificationRecord, site: Site, *, actor: str, at: datetime
) -> None:
    """Set `info_received_at` (once) and the first-certification deadlines it starts."""
    if record.info_received_at is not None:
        return
    position = 1 + await _awaiting_first_certification(session, record.customer_id)
    await _information_received(session, record, site, actor=actor, at=at, position=position)
    await session.flush()


async def _information_received(
    session: AsyncSession,
    record: CertificationRecord,
    site: Site,
    *,
    actor: str,
    at: datetime,
    position: int,
) -> None:
    """`position` is the rollout rule's k: this site's place among the customer's sites
    awaiting first certification, ordered by when their information arrived."""
    record.info_received_at = at
    audit(session, site.id, actor, "info_received_at", None, at, at=at)
    if record.first_certified_at is None and record.deadline_kind is None:
        due = deadlines.first_certification(SiteKind(site.kind), at, position)
        record.rollout_position = position
        await set_deadlines(
            session, record, DeadlineKind.FIRST, at, due.register_by, due.certify_by, actor=actor
        )


async def set_deadlines(
    session: AsyncSession,
    record: CertificationRecord,
    kind: DeadlineKind,
    starts: datetime,
    register_by: datetime | None,
    certify_by: datetime,
    *,
    actor: str,
) -> None:
    before = (record.deadline_kind, record.register_by, record.certify_by)
    record.deadline_kind = kind
    record.deadline_from = starts
    record.register_by = register_by
    record.certify_by = certify_by
    after = (kind, register_by, certify_by)
    if before != after:
        audit(
            session,
            record.site_id,
            actor,
            "deadline",
            _deadline_text(*before) if before[0] else None,
            _deadline_text(*after),
        )


def _deadline_text(
    kind: str | None, register_by: datetime | None, certify_by: datetime | None
) -> str:
    parts = [f"{kind}:"]
    if register_by is not None:
        parts.append(f"register by {register_by.isoformat()},")
    if certify_by is not None:
        parts.append(f"certify by {certify_by.isoformat()}")
    return " ".join(parts)


async def set_state(
    session: AsyncSession,
    record: CertificationRecord,
    state: CertificationState,
    *,
    actor: str,
    note: str | None = None,
) -> None:
    """Move the workflow, publish the state to bookings, and keep it in the audit trail."""
    if record.state == state:
        return
    audit(session, record.site_id, actor, "state", record.state, state, note=note)
    record.state = state
    await registry.set_certification_state(session, record.site_id, state)


async def get_record(
    session: AsyncSession, site_id: int, *, by: Actor
) -> tuple[Site, CertificationRecord]:
    """The site (if `by` may see it) and its record."""
    site = await registry.get_site(session, site_id, by=by)
    await ensure_records(session)
    record = await session.get(CertificationRecord, site.id)
    assert record is not None  # ensure_records made it
    return site, record


async def lock_record(session: AsyncSession, site_id: int) -> CertificationRecord:
    """The record, locked until the transaction ends (state changes queue, not race)."""
    record = await session.scalar(
        select(CertificationRecord)
        .where(CertificationRecord.site_id == site_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert record is not None
    return record


def current_deadline(record: CertificationRecord) -> datetime | None:
    """The next deadline the site is held to: registration first (rooms), then certification."""
    if record.state == CertificationState.CERTIFIED:
        return None
    if (
        record.deadline_kind == DeadlineKind.FIRST
        and record.register_by is not None
        and record.registered_at is None
    ):
        return record.register_by
    return record.certify_by


def is_overdue(record: CertificationRecord, now: datetime) -> bool:
    due = current_deadline(record)
    return due is not None and due < now


async def history(
    session: AsyncSession, site_id: int, *, by: Actor
) -> Sequence[CertificationHistory]:
    site, _ = await get_record(session, site_id, by=by)
    return (
        await session.scalars(
            select(CertificationHistory)
            .where(CertificationHistory.site_id == site.id)
            .order_by(CertificationHistory.at, CertificationHistory.id)
        )
    ).all()


@dataclass(frozen=True)
class QueueRow:
    site: Site
    record: CertificationRecord
    deadline: datetime | None
    overdue: bool


@dataclass(frozen=True)
class Queue:
    rows: list[QueueRow]
    counts: dict[str, int]


async def awaiting_certification(session: AsyncSession) -> list[tuple[Site, CertificationRecord]]:
    """Every site not certified (or being upgraded), with its record."""
    found = await session.execute(
        select(Site, CertificationRecord)
        .join(CertificationRecord, CertificationRecord.site_id == Site.id)
        .where(CertificationRecord.state != CertificationState.CERTIFIED)
    )
    return [(site, record) for site, record in found]


async def queue(session: AsyncSession, *, by: Actor, overdue_only: bool = False) -> Queue:
    """Sites not certified (or being upgraded), the most urgent deadline first."""
    require_certifier(by, "see the certification queue")
    await ensure_records(session)
    now = utcnow()
    counts = {state.value: 0 for state in CertificationState}
    for state, count in await session.execute(
        select(CertificationRecord.state, func.count()).group_by(CertificationRecord.state)
    ):
        counts[state] = count
    found = await awaiting_certification(session)
    rows = [
        QueueRow(site, record, current_deadline(record), is_overdue(record, now))
        for site, record in found
    ]
    if overdue_only:
        rows = [row for row in rows if row.overdue]
    # Sites still waiting for their information have no deadline yet: they come last.
    rows.sort(key=lambda r: (r.deadline is None, r.deadline or now, r.site.id))
    return Queue(rows, counts)


def site_zone(site: Site) -> ZoneInfo:
    return ZoneInfo(site.timezone)
