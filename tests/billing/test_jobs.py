"""The monthly job: drafts each ended month once, catches up after downtime, tells finance."""

from datetime import UTC, datetime

import time_machine
from sqlalchemy import select

from billing.jobs import draft_ended_months_job
from billing.models import Invoice, MonthRun
from billing.service import monthly
from bridgedesk import outbox
from bridgedesk.clock import utcnow
from bridgedesk.identity import Role


async def test_a_month_is_due_only_once_it_has_ended_everywhere(db, october):
    # 03:00 UTC on 1 November is still October in New York (Acme's zone).
    assert await monthly.months_due(db, datetime(2026, 11, 1, 3, tzinfo=UTC)) == ["2026-09"]
    assert await monthly.months_due(db, datetime(2026, 11, 1, 5, tzinfo=UTC)) == ["2026-10"]


async def test_the_job_catches_up_every_missed_month_once(
    db,
    october,
    make_user,
    smtp_server,
):
    finance = await make_user(Role.FINANCE)
    db.add(MonthRun(period="2026-09", ran_at=utcnow(), drafted=0))
    await db.flush()
    # The worker was down from late September until the new year.
    with time_machine.travel(datetime(2027, 1, 1, 13, tzinfo=UTC), tick=False):
        await draft_ended_months_job()
        runs = (await db.scalars(select(MonthRun.period).order_by(MonthRun.period))).all()
        assert runs == ["2026-09", "2026-10", "2026-11", "2026-12"]
        drafts = (await db.scalars(select(Invoice).where(Invoice.status == "draft"))).all()
        # October (Acme's conferences) drafted; the other months had nothing to bill.
        assert [(d.customer_id, d.period) for d in drafts] == [(october["customer"].id, "2026-10")]
        assert drafts[0].document["total"] == "79.58"
        # Run again the same hour: nothing new.
        assert await draft_ended_months_job() == 0
        assert len((await db.scalars(select(Invoice))).all()) == 1
        await outbox.send_due()
    notices = smtp_server.mailbox.with_subject("drafted")
    assert sorted(str(m["Subject"]) for _, m in notices) == [
        "Invoices for 2026-10 drafted: 1 to review",
        "Invoices for 2026-11 drafted: 0 to review",
        "Invoices for 2026-12 drafted: 0 to review",
    ]
    assert all(to == [finance.email] for to, _ in notices)


async def test_a_fresh_service_drafts_just_last_month(db, october):
    with time_machine.travel(datetime(2026, 11, 2, tzinfo=UTC), tick=False):
        assert await draft_ended_months_job() == 1
        assert await draft_ended_months_job() == 0
