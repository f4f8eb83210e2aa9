"""Drafting a month: rating the call records of each customer's conferences into drafts.

A customer's month is the calendar month in the customer's time zone in which each
conference's booked start falls. A run rates every conference of the month that has call
records and is not already on an issued invoice, then replaces the customer's draft for that
month in place (one draft per customer and month, enforced by a partial unique index);
issued invoices are never touched. The whole month is read in a handful of queries (no
per-conference query), because a month may hold 100,000 conferences.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from billing.models import BilledConference, CreditMemo, Invoice
from billing.service import extras
from billing.service.periods import month_bounds, parse_period
from billing.service.plans import plans_by_customer
from billing.service.rating import (
    NoPlanInForce,
    RatedConference,
    SiteInfo,
    from_minor,
    money_str,
    rate_conference,
    to_minor,
)
from billing.service.roles import require_runner
from bridge.service import cdrs
from bridgedesk.clock import utcnow
from bridgedesk.db import MAX_KEY
from bridgedesk.errors import Conflict, InvalidInput, NotFound
from bridgedesk.identity import Actor
from reservations.models import Customer
from reservations.service import queries

# Large months are read in chunks so that no statement carries an unbounded IN list.
CHUNK = 5000
PROGRESS_EVERY = 10000


class RunInProgress(Conflict):
    message = "Another run is drafting the same month; try again when it has finished."


@dataclass
class RunResult:
    period: str
    drafted: list[int] = field(default_factory=list)  # draft invoice ids, new or replaced
    removed: int = 0  # drafts dropped because nothing of theirs is left to bill
    conferences: int = 0
    # Customers with call records in the month but no rate plan, and conferences that could
    # not be priced (a leg before the first plan version); finance is told of both.
    problems: list[str] = field(default_factory=list)


def _iso(instant: datetime, zone: ZoneInfo) -> str:
    return instant.astimezone(zone).isoformat()


def conference_document(
    conference: queries.BillableConference, rated: RatedConference, zone: ZoneInfo
) -> dict[str, Any]:
    """One conference of the invoice document: the API shape, plus what "explain" shows."""
    currency = rated.currency

    def amount(value: Decimal) -> str:
        return money_str(value, currency)

    return {
        "conference_id": conference.id,
        "conference_number": conference.number,
        "title": conference.title,
        "start": _iso(conference.starts_at, zone),
        "scheduled_end": _iso(conference.ends_at, zone),
        "first_connected_at": _iso(rated.first_connected_at, zone),
        "last_disconnected_at": _iso(rated.last_disconnected_at, zone),
        "duration_minutes": rated.duration_minutes,
        "total_minutes": rated.total_minutes,
        "total_charges": amount(rated.total_charges),
        "project_code": conference.project_code,
        "leader_name": conference.leader_name,
        "requester_name": conference.requester_name,
        "recorded": conference.recorded,
        "sites": [
            {
                "site_id": site.site_id,
                "site_name": site.site_name,
                "billing_zone": site.billing_zone,
                "speed_kbps": site.speed_kbps,
                "minutes": site.minutes,
                "charges": amount(site.charges),
                "unrounded": str(site.unrounded),
                "legs": [
                    {
                        "record_id": leg.record_id,
                        "connected_at": _iso(leg.connected_at, zone),
                        "disconnected_at": _iso(leg.disconnected_at, zone),
                        "seconds": str(leg.seconds),
                        "minutes": leg.minutes,
                        "speed_kbps": leg.speed_kbps,
                        "plan_id": leg.plan_id,
                        "tier_up_to_kbps": leg.tier_up_to_kbps,
                        "tier_per_minute": str(leg.tier_per_minute),
                        "zone_multiplier": str(leg.zone_multiplier),
                        "zone_surcharge": str(leg.zone_surcharge),
                        "rate": str(leg.rate),
                        "amount": str(leg.amount),
                    }
                    for leg in site.legs
                ],
            }
            for site in rated.sites
        ],
        "features": [
            {
                "code": feature.code,
                "name": feature.name,
                "per": feature.per,
                "quantity": feature.quantity,
                "price": str(feature.price),
                "unrounded": str(feature.unrounded),
                "charges": amount(feature.charges),
                "plan_id": feature.plan_id,
            }
            for feature in rated.features
        ],
    }


async def _billed_ids(session: AsyncSession, conference_ids: Sequence[int]) -> set[int]:
    billed: set[int] = set()
    for offset in range(0, len(conference_ids), CHUNK):
        chunk = list(conference_ids[offset : offset + CHUNK])
        billed.update(
            await session.scalars(
                select(BilledConference.conference_id).where(
                    BilledConference.conference_id.in_(chunk)
                )
            )
        )
    return billed


async def _pending_credit_memos(
    session: AsyncSession, customer_ids: Sequence[int]
) -> dict[int, list[CreditMemo]]:
    """Credit memos not yet shown on an issued invoice's cover, by customer."""
    found: dict[int, list[CreditMemo]] = {}
    rows = await session.scalars(
        select(CreditMemo)
        .where(CreditMemo.shown_on_invoice_id.is_(None), CreditMemo.customer_id.in_(customer_ids))
        .order_by(CreditMemo.id)
    )
    for memo in rows:
        found.setdefault(memo.customer_id, []).append(memo)
    return found


def credit_memo_line(memo: CreditMemo, invoice_number: str | None) -> dict[str, Any]:
    return {
        "id": memo.id,
        "number": memo.number,
        "invoice_id": memo.invoice_id,
        "invoice_number": invoice_number,
        "conference_number": memo.conference_number,
        "amount": money_str(from_minor(memo.amount_minor, memo.currency), memo.currency),
        "currency": memo.currency,
        "reason": memo.reason,
    }


async def run_month(
    session: AsyncSession,
    period: str,
    *,
    customer_id: int | None = None,
    by: Actor | None,
    progress: Callable[[str], object] = lambda _: None,
) -> RunResult:
    """Draft `period` for one customer or all; idempotent (drafts replaced, issued untouched)."""
    require_runner(by, "run invoices")
    parse_period(period)
    if customer_id is not None and not 1 <= customer_id <= MAX_KEY:
        raise InvalidInput("customer_id is not a known customer.")
    customer_query = select(Customer).order_by(Customer.id)
    if customer_id is not None:
        customer_query = customer_query.where(Customer.id == customer_id)
    customers = list((await session.scalars(customer_query)).all())
    if customer_id is not None and not customers:
        raise NotFound("No such customer.")
    result = RunResult(period)
    if not customers:
        return result
    zones = {c.id: ZoneInfo(c.timezone) for c in customers}
    bounds = {c.id: month_bounds(period, zones[c.id]) for c in customers}
    window_start = min(start for start, _ in bounds.values())
    window_end = max(end for _, end in bounds.values())
    ids = [c.id for c in customers]
    conferences = [
        conference
        for conference in await queries.conferences_starting_between(
            session, window_start, window_end, customer_ids=None if customer_id is None else ids
        )
        if conference.customer_id in bounds
        and bounds[conference.customer_id][0]
        <= conference.starts_at
        < bounds[conference.customer_id][1]
    ]
    progress(f"{period}: {len(conferences)} conferences of {len(customers)} customers")
    # The month's drafts are locked before reading what is billed: an issue in flight either
    # committed first (its draft is no longer one, its conferences are billed) or waits for
    # this run and then issues the re-drafted document. Never an issued invoice overwritten.
    drafts = {
        invoice.customer_id: invoice
        for invoice in await session.scalars(
            select(Invoice)
            .where(
                Invoice.period == period, Invoice.status == "draft", Invoice.customer_id.in_(ids)
            )
            .with_for_update()
        )
    }
    billed = await _billed_ids(session, [c.id for c in conferences])
    unbilled = [c for c in conferences if c.id not in billed]
    records = await _records_by_conference(session, [c.id for c in unbilled])
    plans = await plans_by_customer(session, ids)
    credit_memos = await _pending_credit_memos(session, ids)
    extra_charges: dict[int, list[extras.ExtraCharge]] = {}
    for charge in await extras.unbilled_between(session, ids, window_start, window_end):
        start, end = bounds[charge.customer_id]
        if start <= charge.occurred_at < end:
            extra_charges.setdefault(charge.customer_id, []).append(charge)
    invoice_numbers = await _numbers_of(
        session, {m.invoice_id for memos in credit_memos.values() for m in memos}
    )
    by_customer: dict[int, list[dict[str, Any]]] = {}
    totals: dict[int, int] = {}
    currencies: dict[int, str] = {}
    without_plan: set[int] = set()
    progress(f"{period}: rating {len(unbilled)} conferences ({len(billed)} already issued)")
    for done, conference in enumerate(unbilled, 1):
        if done % PROGRESS_EVERY == 0:
            progress(f"{period}: rated {done}/{len(unbilled)} conferences")
        legs = records.get(conference.id, [])
        if not legs:
            continue  # nothing connected: nothing to bill
        customer_plans = plans.get(conference.customer_id)
        if not customer_plans:
            without_plan.add(conference.customer_id)
            continue
        zone = zones[conference.customer_id]
        sites = {s.site_id: SiteInfo(s.site_id, s.name, s.billing_zone) for s in conference.sites}
        try:
            rated = rate_conference(
                conference.id, legs, sites, conference.features, customer_plans, zone
            )
        except NoPlanInForce as error:
            result.problems.append(f"{conference.number}: {error}; not drafted")
            continue
        if rated is None:
            continue
        by_customer.setdefault(conference.customer_id, []).append(
            conference_document(conference, rated, zone)
        )
        totals[conference.customer_id] = totals.get(conference.customer_id, 0) + to_minor(
            rated.total_charges, rated.currency
        )
        currencies[conference.customer_id] = rated.currency
        result.conferences += 1
    names = {c.id: c.name for c in customers}
    for missing in sorted(without_plan):
        result.problems.append(f"{names[missing]} has call records in {period} but no rate plan")
    now = utcnow()
    for customer in customers:
        lines = by_customer.get(customer.id, [])
        draft = drafts.get(customer.id)
        extra_lines, extra_currency, extra_total = extras.invoice_lines(
            extra_charges.get(customer.id, []),
            plans.get(customer.id, []),
            zones[customer.id],
            result.problems,
            customer.name,
        )
        if not lines and not extra_lines:
            if draft is not None:
                await session.delete(draft)
                result.removed += 1
            continue
        currency = currencies.get(customer.id) or extra_currency or ""
        total_minor = totals.get(customer.id, 0) + extra_total
        document = {
            "customer_id": customer.id,
            "customer_name": customer.name,
            "customer_timezone": customer.timezone,
            "period": period,
            "currency": currency,
            "bill_to": list(customer.billing_emails or []),
            "total": money_str(from_minor(total_minor, currency), currency),
            "total_minutes": sum(line["total_minutes"] for line in lines),
            "conferences": lines,
            "extra_charges": extra_lines,
            "credit_memos": [
                credit_memo_line(memo, invoice_numbers.get(memo.invoice_id))
                for memo in credit_memos.get(customer.id, [])
            ],
            "drafted_at": now.isoformat(),
        }
        if draft is None:
            draft = Invoice(
                status="draft",
                customer_id=customer.id,
                period=period,
                created_at=now,
            )
            session.add(draft)
        draft.currency = currency
        draft.total_minor = total_minor
        draft.document = document
        draft.created_at = now
        try:
            async with session.begin_nested():
                await session.flush()
        except IntegrityError:
            raise RunInProgress() from None
        result.drafted.append(draft.id)
    await session.flush()
    progress(f"{period}: {len(result.drafted)} drafts, {result.conferences} conferences")
    return result


async def _numbers_of(session: AsyncSession, invoice_ids: set[int]) -> dict[int, str | None]:
    if not invoice_ids:
        return {}
    rows = await session.execute(
        select(Invoice.id, Invoice.number).where(Invoice.id.in_(list(invoice_ids)))
    )
    return {row.id: row.number for row in rows}


# The bridge chunks its IN lists too; this bounds how much one call holds in memory.
CHUNK = 20000


async def _records_by_conference(
    session: AsyncSession, conference_ids: Sequence[int]
) -> dict[int, list[cdrs.CallRecord]]:
    """What really happened: every call record of the given conferences (built-in bridge and
    imported), read through the bridge, by conference."""
    found: dict[int, list[cdrs.CallRecord]] = {}
    for offset in range(0, len(conference_ids), CHUNK):
        found.update(
            await cdrs.records_by_conference(session, conference_ids[offset : offset + CHUNK])
        )
    return found
