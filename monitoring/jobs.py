"""Monitoring's scheduled work: the minute's uptime probe round and the SLA breach scan."""

from bridgedesk.clock import utcnow
from bridgedesk.db import unit_of_work
from bridgedesk.settings import get_settings
from monitoring.service import breaches, probing


async def probe_uptime_job() -> int:
    """Ask the health URL (no transaction open while waiting), then fold this minute's
    samples and queue the bridges' OPTIONS probes in one unit of work."""
    settings = get_settings()
    ok, detail = await probing.http_health(settings.health_url, settings.health_timeout_seconds)
    async with unit_of_work() as session:
        return await probing.probe_round(
            session,
            utcnow(),
            client=probing.BridgeProbeClient(),
            health=(settings.health_url, ok, detail),
        )


async def mark_ticket_breaches_job() -> int:
    async with unit_of_work() as session:
        return await breaches.mark_breaches(session)
