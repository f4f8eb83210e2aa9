"""The one table of scheduled jobs: every timed task of every package, and its trigger."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bridgedesk import auth, outbox
from bridgedesk.db import unit_of_work
from bridgedesk.launch import launch_due_conferences_job, supervise_legs_job
from bridgedesk.settings import get_settings
from reservations.jobs import extend_overruns_job, flag_overdue_confirmations_job


async def delete_expired_tokens_job() -> int:
    async with unit_of_work() as session:
        return await auth.delete_expired_tokens(session)


async def send_outbox_job() -> int:
    # No unit of work around it: the sender opens short ones and holds none while mailing.
    return await outbox.send_due()


@dataclass(frozen=True)
class ScheduledJob:
    name: str
    run: Callable[[], Awaitable[int]]
    every_seconds: int
    purpose: str


def scheduled_jobs() -> tuple[ScheduledJob, ...]:
    settings = get_settings()
    return (
        ScheduledJob(
            "send_outbox",
            send_outbox_job,
            settings.outbox_poll_seconds,
            "deliver queued notifications, retrying failures with backoff",
        ),
        ScheduledJob(
            "flag_overdue_confirmations",
            flag_overdue_confirmations_job,
            settings.overdue_scan_seconds,
            "flag bookings past their confirmation deadline and tell operators",
        ),
        ScheduledJob(
            "extend_overruns",
            extend_overruns_job,
            60,
            "give live conferences near their end another 15 minutes (never cut an overrun)",
        ),
        # -- bridge jobs --
        ScheduledJob(
            "launch_due_conferences",
            launch_due_conferences_job,
            settings.launch_interval_seconds,
            "dial every site of each conference whose start has come",
        ),
        ScheduledJob(
            "supervise_legs",
            supervise_legs_job,
            settings.supervise_interval_seconds,
            "follow legs: drops, redials, audio links, contact chains, call records, ends",
        ),
        # -- certification jobs --
        # -- monitoring jobs --
        # -- billing jobs --
        ScheduledJob(
            "delete_expired_tokens",
            delete_expired_tokens_job,
            3600,
            "drop expired API tokens, page sessions and calendar keys",
        ),
    )


async def run_all_once() -> dict[str, int]:
    """Every job once, in table order (`bridgedesk worker --once`, tests)."""
    return {job.name: await job.run() for job in scheduled_jobs()}
