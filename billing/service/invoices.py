"""Invoices: reading them within what each role may see, and issuing them.

Issuing freezes the draft's document, records each conference as billed (a unique row per
conference: it is never billed again), takes the next gapless number and records the PDF
email as due, all in one transaction; the delivery job draws the PDF and queues the email
afterwards, so the counter's lock is held for milliseconds, not for as long as a large
invoice takes to render. After the UPDATE that issues it, the database refuses any change to
the invoice's row (a trigger).
"""

from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from billing.models import BilledConference, BilledExtra, CreditMemo, Invoice
from billing.service import delivery
from billing.service.numbering import next_number
from billing.service.periods import parse_period
from billing.service.rating import to_minor
from billing.service.roles import RUNNERS, require_reader, require_runner
from bridgedesk.clock import utcnow
from bridgedesk.db import MAX_KEY
from bridgedesk.errors import Conflict, InvalidInput, NotFound
from bridgedesk.identity import Actor, Role


class InvoiceNotFound(NotFound):
    message = "No such invoice."


class InvoiceIssued(Conflict):
    message = "The invoice is issued; an issued invoice never changes."


class AlreadyBilled(Conflict):
    message = "A conference on this draft is already on an issued invoice; run the month again."


def _visible(invoice: Invoice, by: Actor) -> bool:
    if by.role in RUNNERS:
        return True
    return (
        by.role == Role.BILLING
        and invoice.customer_id == by.customer_id
        and invoice.status == "issued"
    )


async def get_invoice(
    session: AsyncSession, invoice_id: int, *, by: Actor, for_update: bool = False
) -> Invoice:
    """The invoice if `by` may see it; drafts and other customers' invoices are 404 to
    customers' billing users, and everyone else but finance and admins gets 403."""
    require_reader(by)
    if not 1 <= invoice_id <= MAX_KEY:
        raise InvoiceNotFound()
    invoice = await session.get(Invoice, invoice_id, with_for_update=for_update or None)
    if invoice is None or not _visible(invoice, by):
        raise InvoiceNotFound()
    return invoice


async def list_invoices(
    session: AsyncSession,
    *,
    by: Actor,
    customer_id: int | None = None,
    period: str | None = None,
    status: str | None = None,
) -> Sequence[Invoice]:
    require_reader(by)
    query = select(Invoice).order_by(Invoice.period.desc(), Invoice.customer_id, Invoice.id)
    if by.role not in RUNNERS:
        query = query.where(Invoice.customer_id == by.customer_id, Invoice.status == "issued")
    if customer_id is not None:
        query = query.where(Invoice.customer_id == customer_id)
    if period is not None:
        parse_period(period)
        query = query.where(Invoice.period == period)
    if status is not None:
        if status not in ("draft", "issued"):
            raise InvalidInput("status must be draft or issued.")
        query = query.where(Invoice.status == status)
    return (await session.scalars(query)).all()


async def issue(session: AsyncSession, invoice_id: int, *, by: Actor | None) -> Invoice:
    """Number and freeze a draft; its PDF goes to the billing contacts by the delivery job."""
    require_runner(by, "issue invoices")
    if not 1 <= invoice_id <= MAX_KEY:
        raise InvoiceNotFound()
    invoice = await session.get(Invoice, invoice_id, with_for_update=True)
    if invoice is None:
        raise InvoiceNotFound()
    if invoice.status != "draft":
        raise InvoiceIssued(number=invoice.number)
    # Conferences first: a conference issued meanwhile on another invoice refuses this one
    # before a number is taken (and the number would roll back with it anyway).
    try:
        async with session.begin_nested():
            for line in invoice.document["conferences"]:
                session.add(
                    BilledConference(
                        conference_id=line["conference_id"],
                        invoice_id=invoice.id,
                        conference_number=line["conference_number"],
                        total_minor=to_minor(Decimal(line["total_charges"]), invoice.currency),
                    )
                )
            for extra in invoice.document.get("extra_charges", []):
                session.add(
                    BilledExtra(
                        key=extra["key"],
                        invoice_id=invoice.id,
                        amount_minor=to_minor(Decimal(extra["amount"]), invoice.currency),
                    )
                )
            await session.flush()
    except IntegrityError:
        raise AlreadyBilled() from None
    memo_ids = [memo["id"] for memo in invoice.document.get("credit_memos", [])]
    if memo_ids:
        for memo in await session.scalars(
            select(CreditMemo).where(
                CreditMemo.id.in_(memo_ids), CreditMemo.shown_on_invoice_id.is_(None)
            )
        ):
            memo.shown_on_invoice_id = invoice.id
    now = utcnow()
    number = await next_number(session, "INV", now.year)
    # One UPDATE turns the draft into the issued invoice: after it, the database refuses any
    # change to the row (a trigger), so the frozen snapshot is written in the same statement.
    invoice.status = "issued"
    invoice.number = number
    invoice.issued_at = now
    invoice.issued_by = by.email if by else "command line"
    invoice.document = {**invoice.document, "issued_at": now.isoformat()}
    await session.flush()
    # The PDF email is queued by the delivery job, committed with the number here.
    await delivery.queue(session, "invoice", invoice.id)
    return invoice


async def conference_billed(
    session: AsyncSession, invoice_id: int, conference_number: str
) -> BilledConference | None:
    return await session.scalar(
        select(BilledConference).where(
            BilledConference.invoice_id == invoice_id,
            BilledConference.conference_number == conference_number,
        )
    )
