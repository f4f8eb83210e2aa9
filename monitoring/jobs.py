"""Monitoring's scheduled work: the minute's uptime probe round and the SLA breach scan, each in
its own unit of work; the services isolate each bridge and ticket (bridgedesk.isolation)."""

from bridgedesk import isolation
from bridgedesk.clock import utcnow
from bridgedesk.settings import get_settings
from monitoring.service import breaches, probing


async def probe_uptime_job() -> int:
    """Ask the health URL (no transaction open while waiting), then fold this minute's
    samples and queue the bridges' OPTIONS probes in one unit of work."""
    settings = get_settings()
    ok, detail = await probing.http_health(settings.health_url, settings.health_timeout_seconds)
    return await isolation.in_unit(
        "probe_uptime",
        lambda session: probing.probe_round(
            session,
            utcnow(),
            client=probing.BridgeProbeClient(),
            health=(settings.health_url, ok, detail),
        ),
    )


async def mark_ticket_breaches_job() -> int:
    return await isolation.in_unit("mark_ticket_breaches", breaches.mark_breaches)
