"""Billing's scheduled work: the monthly draft run and the delivery of issued documents, each
month and each document in its own unit of work (bridgedesk.isolation), so one that fails holds
up no other."""

from billing.service import delivery, monthly
from bridgedesk import isolation
from bridgedesk.clock import utcnow


async def draft_ended_months_job() -> int:
    """On the 1st (and after downtime, for every missed month): draft and notify finance.

    Safe to run often and twice: a month already recorded is not drafted again by the job, and
    a concurrent worker's record of the same month makes this one roll back.
    """
    now = utcnow()
    due = await isolation.in_unit(
        "draft_ended_months", lambda session: monthly.months_due(session, now)
    )
    drafted, _ = await isolation.each_in_own_unit(
        due,
        lambda session, period: monthly.draft_month(session, period, now),
        job="draft_ended_months",
        name=lambda period: f"month {period}",
    )
    return sum(drafted)


async def deliver_issued_documents_job() -> int:
    """Draw the PDF of each newly issued invoice and credit memo and queue it by email.

    One unit of work per document: a PDF that fails to render holds up no other.
    """
    pending = await isolation.in_unit("deliver_issued_documents", delivery.pending_ids)
    delivered, _ = await isolation.each_in_own_unit(
        pending,
        delivery.deliver,
        job="deliver_issued_documents",
        name=lambda pending_id: f"pending delivery {pending_id}",
    )
    return sum(delivered)
