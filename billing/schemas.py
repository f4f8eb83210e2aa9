"""Pydantic models of the billing API: rate plans, runs, invoices and credit memos.

Amounts travel as decimal strings ("0.25"), never as JSON numbers, so no float touches them.
"""

from datetime import date
from typing import Annotated, Literal

from annotated_types import Ge, Le
from pydantic import BaseModel, Field

from billing.service.documents import CreditMemoView, InvoiceSummaryView
from bridgedesk.schemas import MULTI_LINE, FromRow, Id, Strict

Amount = Annotated[str, Field(min_length=1, max_length=30, examples=["0.25"])]
Month = Annotated[str, Field(pattern=r"^\d{4}-\d{2}$", examples=["2026-10"])]


class TierIn(Strict):
    up_to_kbps: Annotated[int, Ge(1), Le(1_000_000)] | None
    per_minute: Amount


class ZoneIn(Strict):
    multiplier: Amount | None = None
    surcharge_per_minute: Amount | None = None


class FeatureIn(Strict):
    code: Annotated[str, Field(min_length=1, max_length=40)]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    per: Literal["conference", "minute", "site"]
    price: Amount


class RatePlanIn(Strict):
    customer_id: Id
    currency: Annotated[str, Field(min_length=3, max_length=3)]
    effective_from: date
    speed_tiers: Annotated[list[TierIn], Field(min_length=1, max_length=20)]
    zones: Annotated[dict[Annotated[str, Field(max_length=40)], ZoneIn], Field(max_length=100)] = (
        Field(default_factory=dict)
    )
    features: Annotated[list[FeatureIn], Field(max_length=50)] = Field(default_factory=list)


class TierOut(BaseModel):
    up_to_kbps: int | None
    per_minute: str


class ZoneOut(BaseModel):
    multiplier: str
    surcharge_per_minute: str


class FeatureOut(BaseModel):
    code: str
    name: str
    per: str
    price: str


class RatePlanOut(FromRow):
    id: int
    customer_id: int
    currency: str
    effective_from: date
    speed_tiers: list[TierOut]
    zones: dict[str, ZoneOut]
    features: list[FeatureOut]
    created_by: str


class RunIn(Strict):
    month: Month
    customer_id: Id | None = None


class RunOut(FromRow):
    period: str
    drafted: list[int]
    removed: int
    conferences: int
    problems: list[str]


class CreditMemoIn(Strict):
    invoice_id: Id
    conference_number: Annotated[str, Field(min_length=1, max_length=20)]
    amount: Amount
    reason: Annotated[str, Field(min_length=1, max_length=2000), MULTI_LINE]


class InvoiceList(BaseModel):
    items: list[InvoiceSummaryView]
    total: int


class CreditMemoList(BaseModel):
    items: list[CreditMemoView]
    total: int
