"""The billing package's JSON API under /api/v1: thin handlers over its service.

The renditions (`.pdf`, `.csv`, `.html`) are declared before `/invoices/{invoice_id}` and
the id is an integer, so the plain route never swallows them.
"""

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.responses import HTMLResponse

from billing.models import Invoice
from billing.schemas import (
    CreditMemoIn,
    CreditMemoList,
    InvoiceList,
    Month,
    RatePlanIn,
    RatePlanOut,
    RunIn,
    RunOut,
)
from billing.service import credits, drafting, invoices, plans, renditions
from billing.service.documents import CreditMemoView, InvoiceSummaryView, InvoiceView
from bridgedesk.auth import CurrentActor
from bridgedesk.db import Db
from bridgedesk.schemas import Id
from bridgedesk.text import content_disposition

router = APIRouter(prefix="/api/v1", tags=["billing"])

# The renditions are files, not JSON: the published schema says so.
PDF: dict[int | str, dict[str, object]] = {200: {"content": {"application/pdf": {}}}}
CSV: dict[int | str, dict[str, object]] = {200: {"content": {"text/csv": {}}}}


@router.post("/rate-plans", status_code=201)
async def create_rate_plan(body: RatePlanIn, db: Db, actor: CurrentActor) -> RatePlanOut:
    plan = await plans.create_plan(
        db,
        plans.PlanData(
            customer_id=body.customer_id,
            currency=body.currency,
            effective_from=body.effective_from,
            speed_tiers=[plans.TierData(t.up_to_kbps, t.per_minute) for t in body.speed_tiers],
            zones={
                code: plans.ZoneData(z.multiplier, z.surcharge_per_minute)
                for code, z in body.zones.items()
            },
            features=[plans.FeatureData(f.code, f.name, f.per, f.price) for f in body.features],
        ),
        by=actor,
    )
    return RatePlanOut.from_model(plan)


@router.get("/rate-plans")
async def list_rate_plans(
    db: Db, actor: CurrentActor, customer_id: Annotated[Id | None, Query()] = None
) -> list[RatePlanOut]:
    found = await plans.list_plans(db, customer_id=customer_id, by=actor)
    return [RatePlanOut.from_model(plan) for plan in found]


@router.post("/invoices/run")
async def run_invoices(body: RunIn, db: Db, actor: CurrentActor) -> RunOut:
    result = await drafting.run_month(db, body.month, customer_id=body.customer_id, by=actor)
    return RunOut.from_model(result)


@router.get("/invoices")
async def list_invoices(
    db: Db,
    actor: CurrentActor,
    customer_id: Annotated[Id | None, Query()] = None,
    month: Annotated[Month | None, Query()] = None,
    status: Annotated[str | None, Query(max_length=10)] = None,
) -> InvoiceList:
    found = await invoices.list_invoices(
        db, by=actor, customer_id=customer_id, period=month, status=status
    )
    return InvoiceList(items=[InvoiceSummaryView.from_model(i) for i in found], total=len(found))


@router.get("/invoices/{invoice_id}.pdf", response_class=Response, responses=PDF)
async def invoice_pdf(invoice_id: int, db: Db, actor: CurrentActor) -> Response:
    invoice = await invoices.get_invoice(db, invoice_id, by=actor)
    # Drawing a large invoice takes seconds: off the event loop.
    pdf = await asyncio.to_thread(renditions.invoice_pdf, InvoiceView.from_model(invoice))
    return Response(pdf, media_type="application/pdf", headers=_file(invoice, "pdf"))


@router.get("/invoices/{invoice_id}.csv", response_class=Response, responses=CSV)
async def invoice_csv(invoice_id: int, db: Db, actor: CurrentActor) -> Response:
    invoice = await invoices.get_invoice(db, invoice_id, by=actor)
    text = renditions.invoice_csv(InvoiceView.from_model(invoice))
    return Response(text, media_type="text/csv; charset=utf-8", headers=_file(invoice, "csv"))


@router.get("/invoices/{invoice_id}.html", response_class=HTMLResponse)
async def invoice_html(invoice_id: int, db: Db, actor: CurrentActor) -> HTMLResponse:
    invoice = await invoices.get_invoice(db, invoice_id, by=actor)
    return HTMLResponse(renditions.invoice_html(InvoiceView.from_model(invoice)))


@router.get("/invoices/{invoice_id}")
async def get_invoice(invoice_id: int, db: Db, actor: CurrentActor) -> InvoiceView:
    return InvoiceView.from_model(await invoices.get_invoice(db, invoice_id, by=actor))


@router.post("/invoices/{invoice_id}/issue")
async def issue_invoice(invoice_id: int, db: Db, actor: CurrentActor) -> InvoiceView:
    return InvoiceView.from_model(await invoices.issue(db, invoice_id, by=actor))


@router.post("/credit-memos", status_code=201)
async def create_credit_memo(body: CreditMemoIn, db: Db, actor: CurrentActor) -> CreditMemoView:
    memo = await credits.create_credit_memo(
        db,
        invoice_id=body.invoice_id,
        conference_number=body.conference_number,
        amount=body.amount,
        reason=body.reason,
        by=actor,
    )
    memo, invoice = await credits.get_credit_memo(db, memo.id, by=actor)
    return CreditMemoView.from_model(memo, invoice)


@router.get("/credit-memos")
async def list_credit_memos(
    db: Db,
    actor: CurrentActor,
    customer_id: Annotated[Id | None, Query()] = None,
    invoice_id: Annotated[Id | None, Query()] = None,
) -> CreditMemoList:
    found = await credits.list_credit_memos(
        db, by=actor, customer_id=customer_id, invoice_id=invoice_id
    )
    return CreditMemoList(
        items=[CreditMemoView.from_model(m, i) for m, i in found], total=len(found)
    )


@router.get("/credit-memos/{memo_id}.pdf", response_class=Response, responses=PDF)
async def credit_memo_pdf(memo_id: int, db: Db, actor: CurrentActor) -> Response:
    memo, invoice = await credits.get_credit_memo(db, memo_id, by=actor)
    pdf = await asyncio.to_thread(
        renditions.credit_memo_pdf, CreditMemoView.from_model(memo, invoice)
    )
    return Response(pdf, media_type="application/pdf", headers=_inline(f"{memo.number}.pdf"))


@router.get("/credit-memos/{memo_id}")
async def get_credit_memo(memo_id: int, db: Db, actor: CurrentActor) -> CreditMemoView:
    memo, invoice = await credits.get_credit_memo(db, memo_id, by=actor)
    return CreditMemoView.from_model(memo, invoice)


def _file(invoice: Invoice, extension: str) -> dict[str, str]:
    name = invoice.number or f"draft-{invoice.id}-{invoice.period}"
    return _inline(f"{name}.{extension}")


def _inline(filename: str) -> dict[str, str]:
    return {"Content-Disposition": content_disposition(filename)}
