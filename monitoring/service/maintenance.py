"""Maintenance windows: scheduled, moved and cancelled, each change told to every customer.

"Contacts" of a customer are its designated billing emails plus its primary contact's email
(the people the provider's service description addresses); each customer gets its own
message, so no customer sees another's addresses. A move resets the window's notice time to
the moment the move was announced: customers can only plan around the times they were told,
so a window moved closer than the notice period counts as downtime. `preview_window` shows
both consequences (short notice, conferences inside) before a window is saved.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bridgedesk import outbox
from bridgedesk.clock import utcnow
from bridgedesk.errors import Conflict, Forbidden, InvalidInput, NotFound
from bridgedesk.identity import Actor, Role
from bridgedesk.settings import get_settings
from monitoring.models import MaintenanceNotice, MaintenanceWindow
from monitoring.service.uptime import check_component, notified_in_time
from reservations.models import Conference, Customer
from reservations.service import queries, registry

WINDOW_MANAGERS = frozenset({Role.ADMIN, Role.OPERATOR})
MAX_WINDOW = timedelta(days=7)


class WindowNotFound(NotFound):
    message = "No such maintenance window."


class WindowClosed(Conflict):
    message = "The maintenance window can no longer be changed."


@dataclass(frozen=True)
class WindowData:
    component: str
    start: datetime
    end: datetime
    reason: str
    notified_at: datetime | None = None


def customer_contacts(customer: Customer) -> list[str]:
    contacts = list(customer.billing_emails or [])
    primary = customer.primary_contact or {}
    if primary.get("email"):
        contacts.append(str(primary["email"]))
    return sorted({c.strip().lower() for c in contacts if c and c.strip()})


def _check_times(start: datetime, end: datetime) -> None:
    if end <= start:
        raise InvalidInput("end must be after start.")
    if end - start > MAX_WINDOW:
        raise InvalidInput("A maintenance window lasts at most 7 days.")


def _check_manager(by: Actor) -> None:
    if by.role not in WINDOW_MANAGERS:
        raise Forbidden("Only operators and admins manage maintenance windows.")


async def _notify(
    session: AsyncSession,
    window: MaintenanceWindow,
    kind: str,
    by: Actor,
    *,
    previous: tuple[datetime, datetime] | None = None,
) -> int:
    """One email per customer to its contacts; returns how many customers were told."""
    settings = get_settings()
    customers = await registry.list_customers(session, by=by)
    told = 0
    now = utcnow()
    for customer in customers:
        contacts = customer_contacts(customer)
        if not contacts:
            continue
        await outbox.enqueue_email(
            session,
            topic=f"maintenance_{kind}",
            to=contacts,
            template=f"monitoring/email/maintenance_{kind}.txt",
            context={
                "window": window,
                "customer": customer,
                "zone": customer.timezone,
                "previous": previous,
                "reporting_zone": settings.reporting_timezone,
            },
        )
        told += 1
    session.add(
        MaintenanceNotice(
            window_id=window.id,
            kind=kind,
            sent_at=now,
            starts_at=window.starts_at,
            ends_at=window.ends_at,
            recipients=told,
            by=by.name,
        )
    )
    await session.flush()
    return told


async def create_window(session: AsyncSession, data: WindowData, *, by: Actor) -> MaintenanceWindow:
    """Schedule a window and tell every customer; an admin may instead record a notice that
    was already sent (`notified_at` in the past), and then nothing is sent again."""
    _check_manager(by)
    check_component(data.component)
    _check_times(data.start, data.end)
    now = utcnow()
    if data.notified_at is not None:
        if by.role != Role.ADMIN:
            raise Forbidden("Only an admin may record a notice sent earlier.")
        if data.notified_at > now:
            raise InvalidInput("notified_at must not be in the future.")
    window = MaintenanceWindow(
        component=data.component,
        starts_at=data.start,
        ends_at=data.end,
        reason=data.reason,
        notified_at=data.notified_at or now,
        created_at=now,
        created_by=by.name,
    )
    session.add(window)
    await session.flush()
    if data.notified_at is None:
        await _notify(session, window, "created", by)
    else:
        session.add(
            MaintenanceNotice(
                window_id=window.id,
                kind="recorded",
                sent_at=data.notified_at,
                starts_at=window.starts_at,
                ends_at=window.ends_at,
                recipients=0,
                by=by.name,
            )
        )
        await session.flush()
    return window


async def get_window(
    session: AsyncSession, window_id: int, *, lock: bool = False
) -> MaintenanceWindow:
    """`lock` holds the row until the transaction ends: a move and a cancel arriving together
    take turns, and the second sees what the first did."""
    window = await session.get(
        MaintenanceWindow, window_id, with_for_update=lock, populate_existing=lock
    )
    if window is None:
        raise WindowNotFound()
    return window


async def move_window(
    session: AsyncSession,
    window_id: int,
    *,
    start: datetime | None,
    end: datetime | None,
    reason: str | None,
    by: Actor,
) -> MaintenanceWindow:
    """Change a window's times (or reason) and tell every customer again."""
    _check_manager(by)
    if start is None and end is None and reason is None:
        raise InvalidInput("Give a new start, end or reason.")
    window = await get_window(session, window_id, lock=True)
    now = utcnow()
    if window.cancelled_at is not None:
        raise WindowClosed("The maintenance window was cancelled.")
    if window.ends_at <= now:
        raise WindowClosed("The maintenance window is over.")
    new_start, new_end = start or window.starts_at, end or window.ends_at
    _check_times(new_start, new_end)
    previous = (window.starts_at, window.ends_at)
    moved = previous != (new_start, new_end)
    window.starts_at, window.ends_at = new_start, new_end
    if reason is not None:
        window.reason = reason
    if moved:
        window.notified_at = now
    await session.flush()
    await _notify(session, window, "moved", by, previous=previous if moved else None)
    return window


async def cancel_window(session: AsyncSession, window_id: int, *, by: Actor) -> MaintenanceWindow:
    _check_manager(by)
    window = await get_window(session, window_id, lock=True)
    if window.cancelled_at is not None:
        raise WindowClosed("The maintenance window is already cancelled.")
    if window.starts_at <= utcnow():
        raise WindowClosed("The maintenance window has begun; it can be shortened, not cancelled.")
    window.cancelled_at = utcnow()
    await session.flush()
    await _notify(session, window, "cancelled", by)
    return window


async def list_windows(
    session: AsyncSession,
    *,
    component: str | None = None,
    upcoming_only: bool = False,
    include_cancelled: bool = False,
    limit: int = 200,
) -> Sequence[MaintenanceWindow]:
    query = select(MaintenanceWindow).order_by(MaintenanceWindow.starts_at).limit(limit)
    if component is not None:
        query = query.where(MaintenanceWindow.component == check_component(component))
    if upcoming_only:
        query = query.where(MaintenanceWindow.ends_at > utcnow())
    if not include_cancelled:
        query = query.where(MaintenanceWindow.cancelled_at.is_(None))
    return (await session.scalars(query)).all()


async def notices(session: AsyncSession, window_id: int) -> Sequence[MaintenanceNotice]:
    return (
        await session.scalars(
            select(MaintenanceNotice)
            .where(MaintenanceNotice.window_id == window_id)
            .order_by(MaintenanceNotice.sent_at, MaintenanceNotice.id)
        )
    ).all()


# Held conferences are history and cancelled ones hold no site: neither is disturbed.
UNDISTURBED = frozenset({"cancelled", "ended"})


@dataclass(frozen=True)
class WindowPreview:
    start: datetime
    end: datetime
    notice: timedelta
    # Customers told now hear of it `start - now` ahead; under `notice`, the report counts the
    # window's time as downtime (SPEC §6), so the operator is warned before saving.
    short_notice: bool
    conferences: Sequence[Conference]
    more_conferences: int


async def preview_window(
    session: AsyncSession,
    *,
    component: str,
    start: datetime,
    end: datetime,
    by: Actor,
    now: datetime | None = None,
    limit: int = 50,
) -> WindowPreview:
    """The notice verdict a window announced now would get, and the conferences inside it."""
    _check_manager(by)
    check_component(component)
    _check_times(start, end)
    notice = timedelta(hours=get_settings().maintenance_notice_hours)
    announced = now or utcnow()
    found, _ = await queries.list_conferences(
        session,
        queries.ConferenceFilter(ends_after=start, starts_before=end, limit=500),
        by=by,
    )
    inside = [c for c in found if c.status not in UNDISTURBED]
    return WindowPreview(
        start=start,
        end=end,
        notice=notice,
        short_notice=not notified_in_time(announced, start, notice),
        conferences=inside[:limit],
        more_conferences=max(0, len(inside) - limit),
    )
