"""/metrics: the month's availability, open outages, tickets and breaches, outbox backlog and
probe targets, read from the database and written in Prometheus' text format."""

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncSession

from bridgedesk.clock import utcnow
from monitoring.models import COMPONENTS
from monitoring.service import breaches, dashboard, probing, uptime
from monitoring.service.sla import SEVERITIES


class _Snapshot(Collector):
    """A collector over figures read beforehand (collect() is synchronous, the DB is not)."""

    def __init__(self, metrics: list[Metric]) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        yield from self._metrics


async def exposition(session: AsyncSession) -> bytes:
    now = utcnow()
    month = dashboard.last_months(now, 1)[0][0]
    availability = GaugeMetricFamily(
        "bridgedesk_availability_percent",
        "Availability this calendar month (reporting zone), per SPEC §6.",
        labels=["component"],
    )
    downtime = GaugeMetricFamily(
        "bridgedesk_downtime_minutes", "Downtime counted this month.", labels=["component"]
    )
    budget = GaugeMetricFamily(
        "bridgedesk_downtime_budget_left_minutes",
        "Minutes of downtime left in this month's 99 % budget (negative when overspent).",
        labels=["component"],
    )
    unmonitored = GaugeMetricFamily(
        "bridgedesk_unmonitored_minutes",
        "Minutes the prober was not running this month.",
        labels=["component"],
    )
    outages = GaugeMetricFamily(
        "bridgedesk_open_outages", "Outages currently open.", labels=["component"]
    )
    open_now = await uptime.open_outages(session)
    for component in COMPONENTS:
        report = await uptime.monthly_report(session, component, month, now=now)
        availability.add_metric([component], float(report.availability_pct))
        downtime.add_metric([component], float(report.downtime_minutes))
        budget.add_metric([component], float(report.budget_left_minutes))
        unmonitored.add_metric([component], float(report.unmonitored_minutes))
        outages.add_metric([component], sum(1 for o in open_now if o.component == component))
    targets = GaugeMetricFamily(
        "bridgedesk_probe_target_up",
        "1 if the target's last sample succeeded, 0 if it failed.",
        labels=["component", "target"],
    )
    for state in await probing.current_states(session):
        if state.last_ok is not None:
            targets.add_metric([state.component, state.target], 1.0 if state.last_ok else 0.0)
    open_tickets = GaugeMetricFamily(
        "bridgedesk_tickets_open", "Help-desk tickets not resolved.", labels=["severity"]
    )
    counts = await breaches.counts_by_severity(session)
    for severity in SEVERITIES:
        open_tickets.add_metric(
            [severity],
            sum(
                n for (sev, status), n in counts.items() if sev == severity and status != "resolved"
            ),
        )
    missed = CounterMetricFamily(
        "bridgedesk_ticket_breaches",
        "Missed help-desk clocks found so far.",
        labels=["severity", "kind"],
    )
    found: dict[Any, int] = await breaches.breach_counts(session)
    for severity in SEVERITIES:
        for kind in breaches.BREACH_KINDS:
            missed.add_metric([severity, kind], found.get((severity, kind), 0))
    backlog = GaugeMetricFamily("bridgedesk_outbox_backlog", "Notifications waiting to be sent.")
    backlog.add_metric([], await dashboard.outbox_backlog(session))
    registry = CollectorRegistry(auto_describe=False)
    registry.register(
        _Snapshot(
            [
                availability,
                downtime,
                budget,
                unmonitored,
                outages,
                targets,
                open_tickets,
                missed,
                backlog,
            ]
        )
    )
    return generate_latest(registry)
