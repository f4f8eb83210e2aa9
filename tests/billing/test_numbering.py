"""Gapless invoice numbers under concurrency, on a real PostgreSQL server.

Twenty drafts are issued at once, each in its own connection and transaction: the counter
row's lock queues them, so they get twenty distinct consecutive numbers. The same race run
with MAX()+1 instead of the locked counter collides (kept as a test, so the first one cannot
pass by accident of timing).
"""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billing.models import BilledConference, CreditMemo, Invoice
from billing.service import credits, drafting, invoices
from billing.service.numbering import format_number
from bridgedesk.clock import utcnow
from bridgedesk.db import create_engine_for
from bridgedesk.errors import DomainError
from bridgedesk.identity import Role
from bridgedesk.models import User
from reservations.models import Conference, Customer
from tests.conftest import create_pg_database, drop_pg_database

pytestmark = pytest.mark.postgres
DRAFTS = 20


@pytest.fixture
async def pg_sessions() -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    url = create_pg_database("bridgedesk_billing_numbers")
    engine = create_engine_for(url)
    engine.pool._pool.maxsize = DRAFTS + 5  # type: ignore[attr-defined]
    try:
        yield async_sessionmaker(engine, expire_on_commit=False)
    finally:
        await engine.dispose()
        drop_pg_database(url)


async def _drafts(sessions: async_sessionmaker[AsyncSession]) -> list[int]:
    async with sessions() as session, session.begin():
        ids = []
        for index in range(DRAFTS):
            customer = Customer(
                name=f"Customer {index}",
                timezone="UTC",
                billing_emails=[f"ap{index}@example.com"],
                created_at=utcnow(),
            )
            session.add(customer)
            await session.flush()
            draft = Invoice(
                status="draft",
                customer_id=customer.id,
                period="2026-10",
                currency="USD",
                total_minor=0,
                created_at=utcnow(),
                document={
                    "customer_id": customer.id,
                    "customer_name": customer.name,
                    "customer_timezone": "UTC",
                    "period": "2026-10",
                    "currency": "USD",
                    "bill_to": customer.billing_emails,
                    "total": "0.00",
                    "total_minutes": 0,
                    "conferences": [],
                    "credit_memos": [],
                },
            )
            session.add(draft)
            await session.flush()
            ids.append(draft.id)
        return ids


async def _issue_all(sessions: async_sessionmaker[AsyncSession], ids: list[int]) -> list[object]:
    async def issue_one(invoice_id: int) -> str | None:
        async with sessions() as session, session.begin():
            invoice = await invoices.issue(session, invoice_id, by=None)
            return invoice.number

    return await asyncio.gather(*(issue_one(i) for i in ids), return_exceptions=True)


async def test_twenty_concurrent_issues_get_twenty_consecutive_numbers(pg_sessions):
    ids = await _drafts(pg_sessions)
    numbers = await _issue_all(pg_sessions, ids)
    assert all(isinstance(n, str) for n in numbers), numbers
    year = datetime.now(UTC).year
    assert sorted(numbers) == [format_number("INV", year, n) for n in range(1, DRAFTS + 1)]
    # Issued is final: every further issue of them is a 409, and nothing moved.
    again = await _issue_all(pg_sessions, ids[:3])
    assert all(isinstance(e, DomainError) and e.status_code == 409 for e in again)
    async with pg_sessions() as session:
        stored = (await session.scalars(select(Invoice.number).order_by(Invoice.number))).all()
    assert stored == sorted(numbers)


async def test_max_plus_one_without_the_lock_collides(pg_sessions, monkeypatch):
    """The broken numbering the design rules out: read MAX(number), add one, no lock."""

    async def max_plus_one(session: AsyncSession, kind: str, year: int) -> str:
        current = await session.scalar(
            select(func.max(Invoice.number)).where(Invoice.number.like(f"{kind}-{year}-%"))
        )
        return format_number(kind, year, int(current[-6:]) + 1 if current else 1)  # type: ignore[arg-type]

    monkeypatch.setattr(invoices, "next_number", max_plus_one)
    ids = await _drafts(pg_sessions)
    outcomes = await _issue_all(pg_sessions, ids)
    collided = [o for o in outcomes if isinstance(o, IntegrityError)]
    assert collided, outcomes  # duplicate numbers refused by the unique index
    issued = sorted(o for o in outcomes if isinstance(o, str))
    assert len(issued) < DRAFTS


async def _ended_conference(session: AsyncSession, name: str, number: str) -> Conference:
    """A customer, its scheduler and an ended conference of October, as billing finds them."""
    customer = Customer(name=name, timezone="UTC", billing_emails=[], created_at=utcnow())
    session.add(customer)
    await session.flush()
    user = User(
        email=f"s@{name.lower()}.example",
        name="S",
        password_hash="x",
        role=Role.SCHEDULER,
        customer_id=customer.id,
        active=True,
        created_at=utcnow(),
    )
    session.add(user)
    await session.flush()
    start = datetime(2026, 10, 5, 14, tzinfo=UTC)
    conference = Conference(
        number=number,
        customer_id=customer.id,
        title="T",
        leader_name="L",
        requester_id=user.id,
        requester_name="S",
        features=[],
        starts_at=start,
        ends_at=start.replace(hour=15),
        status="ended",
        recorded=False,
        booked_at=start,
        adhoc=False,
        overflow=False,
    )
    session.add(conference)
    await session.flush()
    return conference


async def test_concurrent_credits_never_exceed_what_the_conference_was_billed(pg_sessions):
    """Ten credits of 30.00 against a conference billed 100.00, all at once: the invoice row
    lock lets exactly three through, with consecutive memo numbers."""

    async with pg_sessions() as session, session.begin():
        conference = await _ended_conference(session, "Credited", "C-2026-777777")
        invoice = Invoice(
            number="INV-2026-000777",
            status="issued",
            customer_id=conference.customer_id,
            period="2026-10",
            currency="USD",
            total_minor=10000,
            created_at=utcnow(),
            issued_at=utcnow(),
            document={"bill_to": [], "conferences": []},
        )
        session.add(invoice)
        await session.flush()
        session.add(
            BilledConference(
                conference_id=conference.id,
                invoice_id=invoice.id,
                conference_number=conference.number,
                total_minor=10000,
            )
        )
        invoice_id = invoice.id

    async def credit() -> str:
        async with pg_sessions() as session, session.begin():
            memo = await credits.create_credit_memo(
                session,
                invoice_id=invoice_id,
                conference_number="C-2026-777777",
                amount="30.00",
                reason="race",
                by=None,
            )
            return memo.number

    outcomes = await asyncio.gather(*(credit() for _ in range(10)), return_exceptions=True)
    written = sorted(o for o in outcomes if isinstance(o, str))
    refused = [o for o in outcomes if isinstance(o, credits.CreditExceedsBilled)]
    assert len(written) == 3 and len(refused) == 7, outcomes
    assert [int(n[-6:]) for n in written] == [1, 2, 3]
    async with pg_sessions() as session:
        total = sum((await session.scalars(select(CreditMemo.amount_minor))).all())
    assert total == 9000


async def _waiting_on_a_lock(sessions: async_sessionmaker[AsyncSession]) -> bool:
    async with sessions() as session:
        waiting = await session.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )
    return bool(waiting)


async def test_a_run_during_an_issue_never_touches_the_issued_invoice(pg_sessions):
    """Finance issues a draft while the month is being re-run: the run waits for the issue's
    lock and then sees the invoice issued and its conference billed."""

    async with pg_sessions() as session, session.begin():
        conference = await _ended_conference(session, "Racing", "C-2026-888888")
        line = {
            "conference_id": conference.id,
            "conference_number": conference.number,
            "total_charges": "12.00",
            "total_minutes": 60,
            "sites": [],
            "features": [],
        }
        draft = Invoice(
            status="draft",
            customer_id=conference.customer_id,
            period="2026-10",
            currency="USD",
            total_minor=1200,
            created_at=utcnow(),
            document={"bill_to": [], "conferences": [line], "total": "12.00"},
        )
        session.add(draft)
        await session.flush()
        draft_id, customer_id = draft.id, conference.customer_id

    async def run() -> drafting.RunResult:
        async with pg_sessions() as session, session.begin():
            return await drafting.run_month(session, "2026-10", customer_id=customer_id, by=None)

    issuing = pg_sessions()
    async with issuing.begin():
        issued = await invoices.issue(issuing, draft_id, by=None)
        rerun = asyncio.create_task(run())
        # A real lock wait between two connections: poll (bounded) until the run waits.
        for _ in range(200):
            if await _waiting_on_a_lock(pg_sessions) or rerun.done():
                break
            await asyncio.sleep(0.05)
        assert not rerun.done()
    await issuing.close()
    result = await rerun
    assert result.drafted == [] and result.removed == 0
    async with pg_sessions() as session:
        stored = await session.get(Invoice, draft_id)
        assert stored is not None
        assert (stored.status, stored.number, stored.total_minor) == ("issued", issued.number, 1200)
        assert stored.document["conferences"] == [line]
