"""The emails reservations sends, each queued in the outbox inside the booking's transaction."""

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bridgedesk import outbox
from bridgedesk.models import User
from bridgedesk.settings import get_settings
from reservations.models import Conference, Customer, Series, Site
from reservations.service.calendars import build_calendar, series_rule


async def requester_email(session: AsyncSession, conference: Conference) -> str | None:
    return await session.scalar(select(User.email).where(User.id == conference.requester_id))


async def _site_names(session: AsyncSession, conference: Conference) -> dict[int, str]:
    ids = [hold.site_id for hold in conference.sites]
    rows = await session.execute(select(Site.id, Site.name).where(Site.id.in_(ids)))
    return {site_id: name for site_id, name in rows.all()}


async def _zone(session: AsyncSession, conference: Conference) -> str:
    return (
        await session.scalar(select(Customer.timezone).where(Customer.id == conference.customer_id))
        or "UTC"
    )


async def booking_received(
    session: AsyncSession,
    conference: Conference,
    *,
    requester_email: str,
    zone: str,
    site_names: dict[int, str],
) -> None:
    """The requester's receipt; the caller already holds everything it shows."""
    await outbox.enqueue_email(
        session,
        topic="booking_received",
        to=[requester_email],
        template="reservations/email/booking_received.txt",
        context={"conference": conference, "zone": zone, "site_names": site_names},
    )


async def conference_confirmed(session: AsyncSession, conference: Conference) -> None:
    """The requester's confirmation, with the meeting as an .ics invitation attached."""
    zone = await _zone(session, conference)
    site_names = await _site_names(session, conference)
    invite = build_calendar(conference.title, zone, [conference], site_names)
    await outbox.enqueue_email(
        session,
        topic="conference_confirmed",
        to=[await requester_email(session, conference) or ""],
        template="reservations/email/conference_confirmed.txt",
        context={"conference": conference, "zone": zone, "site_names": site_names},
        attachments=[outbox.Attachment(f"{conference.number}.ics", "text/calendar", invite)],
        dedupe_key=f"conference_confirmed:{conference.id}:{conference.confirmed_at}",
    )


async def series_confirmed(
    session: AsyncSession, series: Series, confirmed: Sequence[Conference]
) -> None:
    """One email for meetings of a series confirmed together (e.g. automatically on booking),
    with the whole series as it stands attached: one event with its RRULE, exceptions and
    moved meetings, instead of an invitation per meeting."""
    first = min(confirmed, key=lambda c: c.starts_at)
    members = (
        await session.scalars(
            select(Conference)
            .where(Conference.series_id == series.id)
            .order_by(Conference.starts_at)
        )
    ).all()
    site_names = await _site_names(session, first)
    invite = build_calendar(
        first.title, series.timezone, members, site_names, {series.id: series_rule(series)}
    )
    await outbox.enqueue_email(
        session,
        topic="series_confirmed",
        to=[await requester_email(session, first) or ""],
        template="reservations/email/series_confirmed.txt",
        context={
            "series": series,
            "confirmed": sorted(confirmed, key=lambda c: c.starts_at),
            "first": first,
            "zone": await _zone(session, first),
            "site_names": site_names,
        },
        attachments=[outbox.Attachment(f"series-{series.id}.ics", "text/calendar", invite)],
        dedupe_key=f"series_confirmed:{series.id}:{first.id}:{first.confirmed_at}",
    )


async def overrun_conflict(
    session: AsyncSession,
    running: Conference,
    later: Conference,
    site_names: Sequence[str],
) -> None:
    """Both conferences' schedulers and the operators hear that a meeting runs into another."""
    recipients = [
        await requester_email(session, running) or "",
        await requester_email(session, later) or "",
        get_settings().operators_email,
    ]
    await outbox.enqueue_email(
        session,
        topic="overrun_conflict",
        to=recipients,
        template="reservations/email/overrun_conflict.txt",
        context={
            "running": running,
            "later": later,
            "site_names": site_names,
            "zone": await _zone(session, running),
        },
        dedupe_key=f"overrun_conflict:{running.id}:{later.id}:{running.ends_at.isoformat()}",
    )


async def adhoc_overflow(session: AsyncSession, conference: Conference) -> None:
    await outbox.enqueue_email(
        session,
        topic="adhoc_overflow",
        to=[get_settings().operators_email],
        template="reservations/email/adhoc_overflow.txt",
        context={"conference": conference, "site_names": await _site_names(session, conference)},
        dedupe_key=f"adhoc_overflow:{conference.id}",
    )


async def adhoc_sites_unavailable(
    session: AsyncSession, conference: Conference, unavailable: Sequence[object]
) -> None:
    """Operators hear when an ad hoc call went ahead without sites that were already busy."""
    await outbox.enqueue_email(
        session,
        topic="adhoc_sites_unavailable",
        to=[get_settings().operators_email],
        template="reservations/email/adhoc_sites_unavailable.txt",
        context={"conference": conference, "unavailable": unavailable},
        dedupe_key=f"adhoc_sites_unavailable:{conference.id}",
    )
