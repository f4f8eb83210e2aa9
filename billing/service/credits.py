"""Credit memos: a credit for a conference on an issued invoice, as its own numbered document.

A memo never edits the invoice. The invoice row is locked while a memo is written, so two
credits for the same conference cannot together exceed what it was billed.
"""

from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from billing.models import CreditMemo, Invoice
from billing.service import delivery, invoices
from billing.service.numbering import next_number
from billing.service.plans import parse_amount
from billing.service.rating import from_minor, minor_digits, money_str, to_minor
from billing.service.roles import RUNNERS, require_reader, require_runner
from bridgedesk.clock import utcnow
from bridgedesk.db import MAX_KEY
from bridgedesk.errors import Conflict, InvalidInput, NotFound
from bridgedesk.identity import Actor, Role

REASON_MAX = 2000


class CreditMemoNotFound(NotFound):
    message = "No such credit memo."


class InvoiceNotIssued(Conflict):
    message = "Credits are only written against issued invoices."


class CreditExceedsBilled(Conflict):
    message = "The credit is more than what is left of the conference's charges."


async def create_credit_memo(
    session: AsyncSession,
    *,
    invoice_id: int,
    conference_number: str,
    amount: str,
    reason: str,
    by: Actor | None,
) -> CreditMemo:
    require_runner(by, "write credit memos")
    reason = reason.strip()
    if not 1 <= len(reason) <= REASON_MAX:
        raise InvalidInput(f"A credit memo needs a reason (1-{REASON_MAX} characters).")
    if not 1 <= invoice_id <= MAX_KEY:
        raise invoices.InvoiceNotFound()
    # Locked: credits against one invoice are written one at a time.
    invoice = await session.get(Invoice, invoice_id, with_for_update=True)
    if invoice is None:
        raise invoices.InvoiceNotFound()
    if invoice.status != "issued":
        raise InvoiceNotIssued()
    billed = await invoices.conference_billed(session, invoice.id, conference_number.strip())
    if billed is None:
        raise InvalidInput(f"{conference_number[:30]!r} is not a conference on {invoice.number}.")
    value = parse_amount(amount, "amount", places=minor_digits(invoice.currency))
    if value <= 0:
        raise InvalidInput("amount must be more than zero.")
    amount_minor = to_minor(value, invoice.currency)
    earlier = int(
        await session.scalar(
            select(func.coalesce(func.sum(CreditMemo.amount_minor), 0)).where(
                CreditMemo.invoice_id == invoice.id,
                CreditMemo.conference_id == billed.conference_id,
            )
        )
        or 0
    )
    left = billed.total_minor - earlier
    if amount_minor > left:
        raise CreditExceedsBilled(
            left=money_str(from_minor(max(left, 0), invoice.currency), invoice.currency)
        )
    now = utcnow()
    memo = CreditMemo(
        number=await next_number(session, "CM", now.year),
        customer_id=invoice.customer_id,
        invoice_id=invoice.id,
        conference_id=billed.conference_id,
        conference_number=billed.conference_number,
        currency=invoice.currency,
        amount_minor=amount_minor,
        reason=reason,
        created_at=now,
        created_by=by.email if by else "command line",
    )
    session.add(memo)
    await session.flush()
    await delivery.queue(session, "credit_memo", memo.id)
    return memo


def _visible(memo: CreditMemo, by: Actor) -> bool:
    return by.role in RUNNERS or (by.role == Role.BILLING and memo.customer_id == by.customer_id)


async def get_credit_memo(
    session: AsyncSession, memo_id: int, *, by: Actor
) -> tuple[CreditMemo, Invoice]:
    require_reader(by)
    if not 1 <= memo_id <= MAX_KEY:
        raise CreditMemoNotFound()
    memo = await session.get(CreditMemo, memo_id)
    if memo is None or not _visible(memo, by):
        raise CreditMemoNotFound()
    invoice = await session.get(Invoice, memo.invoice_id)
    assert invoice is not None
    return memo, invoice


async def list_credit_memos(
    session: AsyncSession,
    *,
    by: Actor,
    customer_id: int | None = None,
    invoice_id: int | None = None,
) -> Sequence[tuple[CreditMemo, Invoice]]:
    require_reader(by)
    query = (
        select(CreditMemo, Invoice)
        .join(Invoice, Invoice.id == CreditMemo.invoice_id)
        .order_by(CreditMemo.id)
    )
    if by.role not in RUNNERS:
        query = query.where(CreditMemo.customer_id == by.customer_id)
    if customer_id is not None:
        query = query.where(CreditMemo.customer_id == customer_id)
    if invoice_id is not None:
        query = query.where(CreditMemo.invoice_id == invoice_id)
    return [(memo, invoice) for memo, invoice in (await session.execute(query)).all()]


def left_by_conference(invoice: Invoice, memos: Sequence[CreditMemo]) -> dict[str, str]:
    """What may still be credited for each conference on the invoice: its charges less memos."""
    left: dict[str, str] = {}
    for line in invoice.document["conferences"]:
        number = line["conference_number"]
        billed = to_minor(Decimal(line["total_charges"]), invoice.currency)
        credited = sum(m.amount_minor for m in memos if m.conference_number == number)
        left[number] = money_str(from_minor(billed - credited, invoice.currency), invoice.currency)
    return left
