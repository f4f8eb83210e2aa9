"""The one table of scheduled jobs: every timed task of every package, and its trigger."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from billing.jobs import deliver_issued_documents_job, draft_ended_months_job
from bridge.jobs import launch_due_conferences_job, supervise_legs_job
from bridgedesk import auth, isolation, outbox
from bridgedesk.app import figures
from bridgedesk.settings import get_settings
from certification import jobs as certification_jobs
from monitoring import jobs as monitoring_jobs
from reservations.jobs import extend_overruns_job, flag_overdue_confirmations_job


async def delete_expired_tokens_job() -> int:
    return await isolation.in_unit("delete_expired_tokens", auth.delete_expired_tokens)


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
    # The monthly draft puts the help desk's charges on invoices: connect the two packages.
    figures.install()
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
        ScheduledJob(
            "collect_certification_results",
            certification_jobs.collect_test_results_job,
            settings.certification_scan_seconds,
            "copy finished certification test calls' measures onto their tests",
        ),
        ScheduledJob(
            "recertify_after_network_faults",
            certification_jobs.recertify_after_network_faults_job,
            settings.certification_scan_seconds,
            "put sites whose legs dropped or failed for a network cause up for recertification",
        ),
        ScheduledJob(
            "warn_certification_deadlines",
            certification_jobs.warn_before_deadlines_job,
            300,
            "warn technicians of certification deadlines about to pass (once per deadline)",
        ),
        # -- monitoring jobs --
        ScheduledJob(
            "probe_uptime",
            monitoring_jobs.probe_uptime_job,
            60,
            "probe each bridge (SIP OPTIONS) and the health URL; open and close outages",
        ),
        ScheduledJob(
            "mark_ticket_breaches",
            monitoring_jobs.mark_ticket_breaches_job,
            60,
            "mark missed help-desk clocks and tell the next tier",
        ),
        # -- billing jobs --
        ScheduledJob(
            "draft_ended_months",
            draft_ended_months_job,
            3600,
            "on the 1st, draft last month's invoices (and any month missed) and tell finance",
        ),
        ScheduledJob(
            "deliver_issued_documents",
            deliver_issued_documents_job,
            settings.outbox_poll_seconds,
            "render each newly issued invoice's or credit memo's PDF and queue it by email",
        ),
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
