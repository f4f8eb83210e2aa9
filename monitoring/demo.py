"""Demo history for monitoring: last month with a probed outage, a force-majeure outage, a
maintenance window announced in time, a prober gap, and a few help-desk tickets."""

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bridgedesk.clock import utcnow
from bridgedesk.identity import Actor
from monitoring.models import MonitoredSpan, Outage, SlaPolicy
from monitoring.service import maintenance, sla, tickets, uptime
from reservations.service import registry

# Figures the browser test recomputes: last month's bridge outage and force majeure.
DEMO_OUTAGE = (timedelta(days=2, hours=10), timedelta(minutes=40))
DEMO_FORCE_MAJEURE = (timedelta(days=11, hours=2), timedelta(hours=3))
DEMO_WINDOW = (timedelta(days=19, hours=1), timedelta(hours=2))
DEMO_GAP = (timedelta(days=25, hours=4), timedelta(minutes=30))


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
            await tickets.respond(
                session, ticket.id, note="Looking into it", severity=None, by=admin
            )
        if step == "resolve":
            await tickets.resolve(
                session,
                ticket.id,
                closure_reason="solved_without_code_change",
                note="Site codec restarted",
                by=admin,
            )
