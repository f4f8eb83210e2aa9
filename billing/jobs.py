"""Billing's scheduled work: the monthly draft run, each month in its own unit of work."""

from billing.service import delivery, monthly
from bridgedesk.clock import utcnow
from bridgedesk.db import unit_of_work


async def draft_ended_months_job() -> int:
    """On the 1st (and after downtime, for every missed month): draft and notify finance.

    Safe to run often and twice: a month already recorded is not drafted again by the job, and
    a concurrent worker's record of the same month makes this one roll back.
    """
    now = utcnow()
    async with unit_of_work() as session:
        due = await monthly.months_due(session, now)
    drafted = 0
    for period in due:
        async with unit_of_work() as session:
            drafted += await monthly.draft_month(session, period, now)
    return drafted


async def deliver_issued_documents_job() -> int:
    """Draw the PDF of each newly issued invoice and credit memo and queue it by email.

    One unit of work per document: a PDF that fails to render holds up no other.
    """
    delivered = 0
    while True:
        async with unit_of_work() as session:
            if not await delivery.deliver_next(session):
                return delivered
        delivered += 1
