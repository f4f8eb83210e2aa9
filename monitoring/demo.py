"""Demo history for monitoring: last month with a probed outage, a force-majeure outage, a
maintenance window announced in time, a prober gap, a few help-desk tickets, a support
contract, and last month's desk traffic (phone calls and emails) for the desk figures."""

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bridgedesk.clock import utcnow
from bridgedesk.identity import Actor
from monitoring.models import MonitoredSpan, Outage, SlaPolicy, Ticket
from monitoring.service import contracts, maintenance, sla, ticket_handling, tickets, uptime
from reservations.models import Customer
from reservations.service import registry

# Figures the browser test recomputes: last month's bridge outage and force majeure.
DEMO_OUTAGE = (timedelta(days=2, hours=10), timedelta(minutes=40))
DEMO_FORCE_MAJEURE = (timedelta(days=11, hours=2), timedelta(hours=3))
DEMO_WINDOW = (timedelta(days=19, hours=1), timedelta(hours=2))
DEMO_GAP = (timedelta(days=25, hours=4), timedelta(minutes=30))
# Last month's calls to the desk for the first customer: (day, hour, seconds to answer or
# None when the caller hung up). 16 of 20 within 60 s: 80 %, the target exactly.
DEMO_CALL_WAITS = (5, 12, 20, 33, 41, 48, 55, 60, 8, 15, 27, 38, 44, 52, 59, 30, 75, 95, 140, None)
# Its emails: answered after these many hours (the last one late against 24 h).
DEMO_EMAIL_HOURS = (1, 3, 20, 30)


async def load(session: AsyncSession, admin: Actor) -> None:
    now = utcnow()
    zone = uptime.reporting_zone()
    local = now.astimezone(zone)
    year, month = (local.year - 1, 12) if local.month == 1 else (local.year, local.month - 1)
    last = uptime.month_span(year, month, zone)
    bridges = await registry.list_bridges(session)
    target = bridges[0].sip_uri if bridges else "sip:bridge1@127.0.0.1"
    gap_start = last.start + DEMO_GAP[0]
    for component in ("bridge", "reservations"):
        session.add(MonitoredSpan(component=component, started_at=last.start, ended_at=gap_start))
        session.add(
            MonitoredSpan(component=component, started_at=gap_start + DEMO_GAP[1], ended_at=now)
        )
    start = last.start + DEMO_OUTAGE[0]
    session.add(
        Outage(
            component="bridge",
            target=target,
            source="probe",
            started_at=start,
            ended_at=start + DEMO_OUTAGE[1],
            force_majeure=False,
            note="408 Request Timeout",
            created_at=start,
        )
    )
    await session.flush()
    start = last.start + DEMO_FORCE_MAJEURE[0]
    await uptime.record_outage(
        session,
        uptime.ManualOutage(
            "bridge",
            start,
            start + DEMO_FORCE_MAJEURE[1],
            force_majeure=True,
            note="Regional power failure at the data centre",
        ),
        by=admin,
    )
    start = last.start + DEMO_WINDOW[0]
    await maintenance.create_window(
        session,
        maintenance.WindowData(
            "reservations",
            start,
            start + DEMO_WINDOW[1],
            "Database upgrade",
            notified_at=start - timedelta(days=5),
        ),
        by=admin,
    )
    soon = (now + timedelta(days=10)).replace(hour=2, minute=0, second=0, microsecond=0)
    await maintenance.create_window(
        session,
        maintenance.WindowData("bridge", soon, soon + timedelta(hours=2), "Bridge firmware 9.2"),
        by=admin,
    )
    customers = await registry.list_customers(session, by=admin)
    # Acme brings its own support model: business hours in New York.
    eastern = await session.scalar(
        select(SlaPolicy.id).where(SlaPolicy.timezone == "America/New_York")
    )
    acme = [c for c in customers if c.timezone == "America/New_York"]
    if eastern is not None and acme:
        await sla.assign_policy(session, acme[0].id, eastern, by=admin)
    plan = [
        ("SL4", "Board meeting cannot connect", "phone", timedelta(days=3), "resolve"),
        ("SL3", "Cannot add a site to a running meeting", "web", timedelta(hours=5), "respond"),
        ("SL1", "How do I export the calendar feed?", "email", timedelta(hours=2), None),
    ]
    for index, (severity, summary, channel, ago, step) in enumerate(plan):
        customer = customers[index % len(customers)]
        ticket = await tickets.open_ticket(
            session,
            tickets.NewTicket(
                customer.id,
                severity,
                summary,
                f"{summary} (reported by the customer's scheduler).",
                channel,
                reported_at=now - ago,
                caller_name="Dana Leader",
                caller_account=f"ACCT-{customer.id:04d}",
            ),
            by=admin,
        )
        if step in ("respond", "resolve"):
            await ticket_handling.respond(
                session, ticket.id, note="Looking into it", severity=None, by=admin
            )
        if step == "resolve":
            await ticket_handling.resolve(
                session,
                ticket.id,
                closure_reason="solved_without_code_change",
                note="Site codec restarted",
                by=admin,
            )
    await _desk_history(session, admin, customers, last.start)


async def _desk_history(
    session: AsyncSession, admin: Actor, customers: Sequence[Customer], month_start: datetime
) -> None:
    """A support contract for the first customer and its desk traffic last month."""
    if not customers:
        return
    customer = customers[0]
    await contracts.create_contract(
        session,
        contracts.NewContract(
            customer.id,
            ["Boardroom codec", "Lab MCU"],
            [contracts.AuthorizedPerson("Dana Leader", f"dana-{customer.id}@example.com")],
            (month_start - timedelta(days=90)).date(),
        ),
        by=admin,
    )
    for index, wait in enumerate(DEMO_CALL_WAITS):
        offered = month_start + timedelta(days=1 + index, hours=9 + index % 8, minutes=7)
        call = await tickets.open_ticket(
            session,
            tickets.NewTicket(
                customer.id,
                "SL2" if index % 3 else "SL3",
                f"Call {index + 1}: picture freezes",
                "Far-end video freezes for a few seconds.",
                "phone",
                reported_at=offered,
                caller_name="Dana Leader",
                caller_system="Boardroom codec",
                offered_at=offered,
                answered_at=None if wait is None else offered + timedelta(seconds=wait),
            ),
            by=admin,
        )
        # The caller who hung up was called back within 10 minutes; all were solved.
        _closed(call, offered + timedelta(minutes=10), offered + timedelta(hours=2))
    for index, hours in enumerate(DEMO_EMAIL_HOURS):
        reported = month_start + timedelta(days=3 + 5 * index, hours=14)
        ticket = await tickets.open_ticket(
            session,
            tickets.NewTicket(
                customer.id,
                "SL1",
                f"Question {index + 1} about the calendar feed",
                "How do we subscribe to a site's calendar?",
                "email",
                reported_at=reported,
                caller_name="Dana Leader",
            ),
            by=admin,
        )
        # History as it happened: the answer came `hours` after the mail, and solved it.
        answered = reported + timedelta(hours=hours)
        _closed(ticket, answered, answered)
    await session.flush()


def _closed(ticket: Ticket, responded_at: datetime, resolved_at: datetime) -> None:
    """Last month's ticket as it went: answered, then solved (history, written as it was)."""
    ticket.status = "resolved"
    ticket.responded_at = responded_at
    ticket.last_update_at = responded_at
    ticket.resolved_at = resolved_at
    ticket.closure_reason = "solved_without_code_change"
    ticket.next_update_by = None
