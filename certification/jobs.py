"""Certification's scheduled work, each run in its own unit of work (the app's job table);
the services isolate each test, fault and site (bridgedesk.isolation)."""

from bridgedesk import isolation
from certification.service import calls, recertification, reports


async def collect_test_results_job() -> int:
    return await isolation.in_unit("collect_certification_results", calls.collect_results)


async def recertify_after_network_faults_job() -> int:
    return await isolation.in_unit(
        "recertify_after_network_faults", recertification.recertify_after_network_faults
    )


async def warn_before_deadlines_job() -> int:
    return await isolation.in_unit("warn_certification_deadlines", reports.warn_before_deadlines)
