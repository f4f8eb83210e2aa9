"""What certification tells people: technicians warned before deadlines pass, and the monthly
share of sites certified within their deadline."""

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bridgedesk import isolation, outbox
from bridgedesk.clock import utcnow
from bridgedesk.errors import InvalidInput
from bridgedesk.settings import get_settings
from certification.models import CertificationRecord, CertificationSignOff
from certification.service import deadlines
from certification.service.records import (
    awaiting_certification,
    current_deadline,
    ensure_records,
)
from reservations.models import Site


async def warn_before_deadlines(session: AsyncSession) -> int:
    """Email technicians about each deadline due within the warning time, once per deadline.

    A deadline already passed while the worker was down is still reported (marked overdue).
    """
    await ensure_records(session)
    now = utcnow()
    horizon = now + deadlines.WARN_BEFORE
    found = await awaiting_certification(session)
    sent = 0

    async def warn(found_row: tuple[Site, CertificationRecord]) -> None:
        nonlocal sent
        site, record = found_row
        due = current_deadline(record)
        if due is None or due > horizon:
            return
        which = (
            "register" if due == record.register_by and record.registered_at is None else "certify"
        )
        message = await outbox.enqueue_email(
            session,
            topic="certification_deadline",
            to=[get_settings().technicians_email],
            template="certification/email/deadline_warning.txt",
            context={
                "site": site,
                "record": record,
                "due": due,
                "which": which,
                "overdue": due < now,
            },
            dedupe_key=f"certification_deadline:{site.id}:{which}:{due.isoformat()}",
        )
        sent += message is not None

    await isolation.each_in_savepoint(
        session,
        [(site, record) for site, record in found],
        warn,
        job="warn_certification_deadlines",
        name=lambda row: f"site {row[0].id}",
    )
    return sent


@dataclass(frozen=True)
class MonthlyFigure:
    month: str
    certified: int
    on_time: int
    late: int
    share_on_time: float | None


def month_bounds(month: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[first instant, first instant of the next month) of YYYY-MM in `zone`, as UTC."""
    try:
        year, number = (int(part) for part in month.split("-"))
        start = datetime(year, number, 1, tzinfo=zone)
    except ValueError:
        raise InvalidInput("month must be YYYY-MM.") from None
    if not 1970 <= year <= 9000:
        raise InvalidInput("month must be YYYY-MM.")
    end = datetime(year + (number == 12), number % 12 + 1, 1, tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


async def _sign_offs(
    session: AsyncSession, month: str, customer_id: int | None
) -> list[CertificationSignOff]:
    start, end = month_bounds(month, ZoneInfo(get_settings().reporting_timezone))
    query = select(CertificationSignOff).where(
        CertificationSignOff.at >= start, CertificationSignOff.at < end
    )
    if customer_id is not None:
        query = query.join(Site, Site.id == CertificationSignOff.site_id).where(
            Site.customer_id == customer_id
        )
    return list((await session.scalars(query.order_by(CertificationSignOff.at))).all())


async def monthly_figure(
    session: AsyncSession, month: str, *, customer_id: int | None = None
) -> MonthlyFigure:
    """Sign-offs in the month (the reporting time zone's) and how many met their deadline;
    one customer's sites only when `customer_id` is given (its service report)."""
    sign_offs = await _sign_offs(session, month, customer_id)
    on_time = sum(1 for s in sign_offs if s.on_time)
    return MonthlyFigure(
        month=month,
        certified=len(sign_offs),
        on_time=on_time,
        late=len(sign_offs) - on_time,
        share_on_time=on_time / len(sign_offs) if sign_offs else None,
    )


@dataclass(frozen=True)
class SignOffFact:
    """One certification granted, as a customer's report lists it."""

    site_id: int
    at: datetime
    deadline_kind: str | None
    deadline: datetime | None
    on_time: bool


async def monthly_sign_offs(
    session: AsyncSession, month: str, *, customer_id: int
) -> list[SignOffFact]:
    """The sign-offs behind `monthly_figure` for one customer, so it can be recomputed."""
    return [
        SignOffFact(s.site_id, s.at, s.deadline_kind, s.deadline, s.on_time)
        for s in await _sign_offs(session, month, customer_id)
    ]
