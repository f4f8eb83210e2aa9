"""Sending issued documents: the PDF of each issued invoice and credit memo, by email.

Issuing records a pending delivery in its own transaction; `deliver` later claims one
(SKIP LOCKED, so two workers never draw the same PDF), renders it, queues the email to the
customer's billing contacts in the outbox and drops the pending row, all in one unit of work.
A crash in between leaves the row pending and the next run does it again; the outbox's
dedupe key keeps that to one email.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from billing.models import CreditMemo, Invoice, PendingDelivery
from billing.service import renditions
from billing.service.documents import CreditMemoView, InvoiceView
from bridgedesk import outbox
from bridgedesk.clock import utcnow

log = logging.getLogger(__name__)

DocumentKind = Literal["invoice", "credit_memo"]

# Documents another package sends with each invoice (monitoring's service report for the
# month), connected by the shell since billing imports no sibling: given the customer's id and
# the invoice's period (YYYY-MM), the attachments to add.
InvoiceCompanion = Callable[[AsyncSession, int, str], Awaitable[list[outbox.Attachment]]]
_companions: list[InvoiceCompanion] = []


def register_invoice_companion(companion: InvoiceCompanion) -> None:
    _companions[:] = [companion]


async def queue(session: AsyncSession, kind: DocumentKind, document_id: int) -> None:
    session.add(PendingDelivery(kind=kind, document_id=document_id, created_at=utcnow()))
    await session.flush()


async def _invoice_email(session: AsyncSession, invoice_id: int) -> None:
    invoice = await session.get(Invoice, invoice_id)
    if invoice is None or invoice.number is None:
        return
    document = InvoiceView.from_model(invoice)
    pdf = await asyncio.to_thread(renditions.invoice_pdf, document)
    attachments = [outbox.Attachment(f"{invoice.number}.pdf", "application/pdf", pdf)]
    for companion in _companions:
        # A companion that fails (say, a month it cannot report) must not hold the invoice
        # back: the invoice goes without it and the failure is logged.
        try:
            async with session.begin_nested():
                attachments.extend(await companion(session, invoice.customer_id, invoice.period))
        except Exception:
            log.exception(
                "invoice %s: a companion document failed; sent without it", invoice.number
            )
    await outbox.enqueue_email(
        session,
        topic="invoice_issued",
        to=document.bill_to,
        template="billing/email/invoice_issued.txt",
        context={"invoice": document, "companions": [a.filename for a in attachments[1:]]},
        attachments=attachments,
        dedupe_key=f"invoice_issued:{invoice.id}",
    )


async def _credit_memo_email(session: AsyncSession, memo_id: int) -> None:
    memo = await session.get(CreditMemo, memo_id)
    invoice = await session.get(Invoice, memo.invoice_id) if memo else None
    if memo is None or invoice is None:
        return
    document = CreditMemoView.from_model(memo, invoice)
    pdf = await asyncio.to_thread(renditions.credit_memo_pdf, document)
    await outbox.enqueue_email(
        session,
        topic="credit_memo_issued",
        to=document.bill_to,
        template="billing/email/credit_memo_issued.txt",
        context={"memo": document},
        attachments=[outbox.Attachment(f"{memo.number}.pdf", "application/pdf", pdf)],
        dedupe_key=f"credit_memo_issued:{memo.id}",
    )


async def pending_ids(session: AsyncSession) -> list[int]:
    """The pending deliveries, oldest first (the job delivers each in its own unit of work)."""
    return list(await session.scalars(select(PendingDelivery.id).order_by(PendingDelivery.id)))


async def deliver(session: AsyncSession, pending_id: int) -> bool:
    """Queue the email of one pending document; False if it is gone or another worker has it."""
    pending = await session.scalar(
        select(PendingDelivery)
        .where(PendingDelivery.id == pending_id)
        .with_for_update(skip_locked=True)
    )
    if pending is None:
        return False
    await _send(session, pending)
    return True


async def _send(session: AsyncSession, pending: PendingDelivery) -> None:
    if pending.kind == "invoice":
        await _invoice_email(session, pending.document_id)
    else:
        await _credit_memo_email(session, pending.document_id)
    await session.delete(pending)
    await session.flush()
