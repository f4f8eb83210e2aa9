"""The billing package's server-rendered pages: thin handlers over its service.

Finance and admins see a month's invoices, run the month, open an invoice with the
"explain this line" view, issue it and write credit memos; customers' billing users see their
own issued invoices and credit memos only.
"""

from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from billing.service import credits, drafting, invoices
from billing.service.documents import CreditMemoView, InvoiceSummaryView, InvoiceView
from billing.service.periods import next_period, parse_period, period_of, previous_period
from billing.service.roles import is_runner, require_reader
from bridgedesk.auth import CurrentActor, current_actor
from bridgedesk.clock import utcnow
from bridgedesk.db import Db
from bridgedesk.web import render

router = APIRouter(include_in_schema=False, dependencies=[Depends(current_actor)])


def _last_month() -> str:
    return previous_period(period_of(utcnow(), ZoneInfo("UTC")))


@router.get("/billing")
async def billing_home(
    request: Request,
    db: Db,
    actor: CurrentActor,
    month: Annotated[str | None, Query(max_length=7)] = None,
) -> Response:
    require_reader(actor)
    runner = is_runner(actor)
    period = month or _last_month()
    parse_period(period)
    found = await invoices.list_invoices(db, by=actor, period=period if runner else None)
    memos = await credits.list_credit_memos(db, by=actor)
    return render(
        request,
        "billing/home.html",
        {
            "runner": runner,
            "period": period,
            "previous": previous_period(period),
            "following": next_period(period),
            "invoices": [InvoiceSummaryView.from_model(i) for i in found],
            "memos": [CreditMemoView.from_model(m, i) for m, i in memos],
        },
        actor=actor,
    )


@router.post("/billing/run")
async def run_month(
    db: Db, actor: CurrentActor, month: Annotated[str, Form(max_length=7)]
) -> Response:
    await drafting.run_month(db, month, by=actor)
    return RedirectResponse(f"/billing?month={month}", status_code=303)


@router.get("/billing/invoices/{invoice_id:int}")
async def invoice_page(request: Request, invoice_id: int, db: Db, actor: CurrentActor) -> Response:
    invoice = await invoices.get_invoice(db, invoice_id, by=actor)
    memos = [m for m, _ in await credits.list_credit_memos(db, by=actor, invoice_id=invoice.id)]
    return render(
        request,
        "billing/invoice_page.html",
        {
            "invoice": InvoiceView.from_model(invoice),
            "runner": is_runner(actor),
            "memos": [CreditMemoView.from_model(m, invoice) for m in memos],
            "left": credits.left_by_conference(invoice, memos),
        },
        actor=actor,
    )


@router.post("/billing/invoices/{invoice_id:int}/issue")
async def issue_invoice(invoice_id: int, db: Db, actor: CurrentActor) -> Response:
    await invoices.issue(db, invoice_id, by=actor)
    return RedirectResponse(f"/billing/invoices/{invoice_id}", status_code=303)


@router.post("/billing/invoices/{invoice_id:int}/credit-memos")
async def write_credit_memo(
    invoice_id: int,
    db: Db,
    actor: CurrentActor,
    conference_number: Annotated[str, Form(max_length=20)],
    amount: Annotated[str, Form(max_length=30)],
    reason: Annotated[str, Form(max_length=2000)],
) -> Response:
    await credits.create_credit_memo(
        db,
        invoice_id=invoice_id,
        conference_number=conference_number,
        amount=amount,
        reason=reason,
        by=actor,
    )
    return RedirectResponse(f"/billing/invoices/{invoice_id}#credit-memos", status_code=303)
