"""Certification's scheduled work, each run in its own unit of work (the app's job table)."""

from bridgedesk.db import unit_of_work
from certification.service import calls, recertification, reports


async def collect_test_results_job() -> int:
    async with unit_of_work() as session:
        return await calls.collect_results(session)


async def recertify_after_network_faults_job() -> int:
    async with unit_of_work() as session:
        return await recertification.recertify_after_network_faults(session)


async def warn_before_deadlines_job() -> int:
    async with unit_of_work() as session:
        return await reports.warn_before_deadlines(session)
