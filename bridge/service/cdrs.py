"""Call detail records: reading them, and importing an external MCU's (all or nothing)."""

from bisect import bisect_left
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import Field, ValidationError
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bridge.models import CallRecord as CallRecordRow
from bridge.service import bookings
from bridgedesk.clock import utcnow
from bridgedesk.db import MAX_KEY
from bridgedesk.errors import Conflict, InvalidInput
from bridgedesk.schemas import Instant, Strict

# A batch is stored whole or not at all; larger ones are split by the sender.
MAX_IMPORT_RECORDS = 10_000
MIN_SPEED_KBPS, MAX_SPEED_KBPS = 1, 100_000
# No connection of one site lasts longer (a 24 h conference and its overruns).
MAX_CONNECTION = timedelta(hours=48)
# A record may not end in the future; a sender's clock may run this far ahead of ours.
CLOCK_SKEW = timedelta(minutes=5)
# A record belongs to its conference's time: a site may join up to an hour early, and leave
# up to 12 hours late (the longest an overrun is extended at once).
EARLY_JOIN = timedelta(hours=1)
LATE_LEAVE = timedelta(hours=12)
# Conferences a record may belong to: one that was held (or is being held).
RECORDABLE_STATUSES = ("live", "ended", "confirmed", "requested")
_CHUNK = 500


@dataclass(frozen=True)
class CallRecord:
    id: int
    conference_id: int
    conference_number: str
    customer_id: int
    site_id: int
    bridge_id: int | None
    connected_at: datetime
    disconnected_at: datetime
    speed_kbps: int
    disconnect_cause: str | None
    source: str  # "bridge" | "import"


# The columns of a CallRecord, in its field order: read as plain rows, not ORM objects, since
# billing reads a month of them at once (bench/invoices.py).
_COLUMNS = (
    CallRecordRow.id,
    CallRecordRow.conference_id,
    CallRecordRow.conference_number,
    CallRecordRow.customer_id,
    CallRecordRow.site_id,
    CallRecordRow.bridge_id,
    CallRecordRow.connected_at,
    CallRecordRow.disconnected_at,
    CallRecordRow.speed_kbps,
    CallRecordRow.disconnect_cause,
    CallRecordRow.source,
)


async def list_records(
    session: AsyncSession,
    *,
    customer_id: int | None = None,
    conference_number: str | None = None,
    conference_ids: Collection[int] | None = None,
    site_id: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[CallRecord]:
    """Records ordered by (connected_at, id); start/end filter connected_at: start <= t < end."""
    if start is not None and end is not None and end <= start:
        raise InvalidInput("`to` must be after `from`.")
    if conference_number is not None and "\x00" in conference_number:
        raise InvalidInput("conference_number must not contain NUL characters.")
    query = select(*_COLUMNS)
    if customer_id is not None:
        query = query.where(CallRecordRow.customer_id == customer_id)
    if conference_number is not None:
        query = query.where(CallRecordRow.conference_number == conference_number)
    if site_id is not None:
        query = query.where(CallRecordRow.site_id == site_id)
    if start is not None:
        query = query.where(CallRecordRow.connected_at >= start)
    if end is not None:
        query = query.where(CallRecordRow.connected_at < end)
    query = query.order_by(CallRecordRow.connected_at, CallRecordRow.id)
    if conference_ids is not None:
        wanted = sorted(set(conference_ids))
        records: list[CallRecord] = []
        for i in range(0, len(wanted), _CHUNK):
            chunk = wanted[i : i + _CHUNK]
            result = await session.execute(query.where(CallRecordRow.conference_id.in_(chunk)))
            records.extend(CallRecord(*row) for row in result)
        records.sort(key=lambda r: (r.connected_at, r.id))
        records = records[offset:]
        return records[:limit] if limit is not None else records
    if offset:
        query = query.offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return [CallRecord(*row) for row in await session.execute(query)]


async def records_by_conference(
    session: AsyncSession, conference_ids: Collection[int]
) -> dict[int, list[CallRecord]]:
    found: dict[int, list[CallRecord]] = {i: [] for i in conference_ids}
    for record in await list_records(session, conference_ids=conference_ids):
        found.setdefault(record.conference_id, []).append(record)
    return found


# -- import --


class ImportedRecord(Strict):
    """One record as an external MCU sends it (text checked by the edge's one rule)."""

    conference_number: str = Field(min_length=1, max_length=20)
    site_id: int = Field(ge=1, le=MAX_KEY)
    connected_at: Instant
    disconnected_at: Instant
    speed_kbps: int = Field(ge=MIN_SPEED_KBPS, le=MAX_SPEED_KBPS)
    disconnect_cause: str | None = Field(default=None, max_length=100)


@dataclass(frozen=True)
class RecordProblem:
    index: int
    reason: str


class RecordsRefused(InvalidInput):
    message = "The batch was refused and nothing was stored; see `errors`."


class ImportRaced(Conflict):
    message = (
        "Another import stored records of the same sites at the same time; nothing was "
        "stored. Send the batch again."
    )


def _problem(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        where = ".".join(str(p) for p in item.get("loc", ())) or "record"
        parts.append(f"{where}: {item.get('msg', 'invalid')}")
    return "; ".join(parts)


def _parse(raw: Sequence[Any]) -> tuple[list[tuple[int, ImportedRecord]], list[RecordProblem]]:
    parsed: list[tuple[int, ImportedRecord]] = []
    problems: list[RecordProblem] = []
    now = utcnow()
    for index, item in enumerate(raw):
        if not isinstance(item, Mapping):
            problems.append(RecordProblem(index, "a record must be a JSON object"))
            continue
        try:
            record = ImportedRecord.model_validate(item)
        except ValidationError as error:
            problems.append(RecordProblem(index, _problem(error)))
            continue
        if record.disconnected_at <= record.connected_at:
            problems.append(RecordProblem(index, "disconnected_at must be after connected_at"))
        elif record.disconnected_at - record.connected_at > MAX_CONNECTION:
            problems.append(RecordProblem(index, "a connection lasts at most 48 hours"))
        elif record.disconnected_at > now + CLOCK_SKEW:
            problems.append(RecordProblem(index, "disconnected_at is in the future"))
        else:
            parsed.append((index, record))
    return parsed, problems


async def import_records(session: AsyncSession, raw: Sequence[Any]) -> int:
    """Store an external MCU's records, all or none.

    Each record must name an existing conference that was held, a site of that conference's
    customer taking part in it, and times that neither repeat nor overlap another record of
    the same site (in the batch or stored). Every bad record is named by index with a reason.
    """
    if not raw:
        raise InvalidInput("records must hold at least one record.")
    if len(raw) > MAX_IMPORT_RECORDS:
        raise InvalidInput(
            f"A batch holds at most {MAX_IMPORT_RECORDS} records; this one has {len(raw)}."
        )
    parsed, problems = _parse(raw)
    conferences = await bookings.conferences_by_number(
        session, {r.conference_number for _, r in parsed}
    )
    sites = await bookings.sites(session, {r.site_id for _, r in parsed})
    valid: list[tuple[int, ImportedRecord]] = []
    for index, record in parsed:
        conference = conferences.get(record.conference_number)
        site = sites.get(record.site_id)
        if conference is None:
            problems.append(RecordProblem(index, f"no conference {record.conference_number}"))
        elif conference.status not in RECORDABLE_STATUSES:
            problems.append(
                RecordProblem(index, f"conference {conference.number} is {conference.status}")
            )
        elif site is None or site.customer_id != conference.customer_id:
            problems.append(
                RecordProblem(
                    index,
                    f"site {record.site_id} is not a site of conference {conference.number}'s "
                    "customer",
                )
            )
        elif not (
            conference.starts_at - EARLY_JOIN <= record.connected_at
            and record.disconnected_at <= conference.ends_at + LATE_LEAVE
        ):
            problems.append(
                RecordProblem(
                    index,
                    f"the connection lies outside conference {conference.number} "
                    f"({conference.starts_at.isoformat()} to {conference.ends_at.isoformat()}, "
                    "give or take an hour before and 12 hours after)",
                )
            )
        elif record.site_id not in {held.site_id for held in conference.sites}:
            problems.append(
                RecordProblem(
                    index,
                    f"site {record.site_id} does not take part in conference {conference.number}",
                )
            )
        else:
            valid.append((index, record))
    problems.extend(_overlaps_in_batch(valid))
    problems.extend(await _overlaps_with_stored(session, valid))
    if problems:
        reasons: dict[int, list[str]] = {}
        for problem in problems:
            reasons.setdefault(problem.index, []).append(problem.reason)
        raise RecordsRefused(
            errors=[
                {"index": index, "reason": "; ".join(reasons[index])} for index in sorted(reasons)
            ],
        )
    now = utcnow()
    rows = []
    for _, record in valid:
        conference = conferences[record.conference_number]
        rows.append(
            {
                "conference_id": conference.id,
                "conference_number": conference.number,
                "customer_id": conference.customer_id,
                "site_id": record.site_id,
                "bridge_id": conference.bridge_id,
                "leg_id": None,
                "connected_at": record.connected_at,
                "disconnected_at": record.disconnected_at,
                "speed_kbps": record.speed_kbps,
                "disconnect_cause": record.disconnect_cause,
                "source": "import",
                "created_at": now,
            }
        )
    try:
        async with session.begin_nested():
            for i in range(0, len(rows), 1000):
                await session.execute(insert(CallRecordRow), rows[i : i + 1000])
    except IntegrityError:
        # PostgreSQL's exclusion constraint saw a concurrent import's overlapping record.
        raise ImportRaced() from None
    return len(rows)


def _overlaps_in_batch(valid: Sequence[tuple[int, ImportedRecord]]) -> list[RecordProblem]:
    """Records of one site that repeat or overlap an earlier one of the batch."""
    problems = []
    by_site: dict[int, list[tuple[int, ImportedRecord]]] = {}
    for index, record in valid:
        by_site.setdefault(record.site_id, []).append((index, record))
    for items in by_site.values():
        items.sort(key=lambda item: (item[1].connected_at, item[0]))
        # The record reaching furthest so far: anything starting before its end overlaps it.
        reach: tuple[int, ImportedRecord] | None = None
        for index, record in items:
            if reach is not None and record.connected_at < reach[1].disconnected_at:
                other, earlier = reach
                same = (record.connected_at, record.disconnected_at) == (
                    earlier.connected_at,
                    earlier.disconnected_at,
                )
                what = "repeats" if same else "overlaps"
                problems.append(
                    RecordProblem(
                        index, f"{what} record {other} of the batch (site {record.site_id})"
                    )
                )
            if reach is None or record.disconnected_at > reach[1].disconnected_at:
                reach = (index, record)
    return problems


async def _overlaps_with_stored(
    session: AsyncSession, valid: Sequence[tuple[int, ImportedRecord]]
) -> list[RecordProblem]:
    if not valid:
        return []
    site_ids = sorted({r.site_id for _, r in valid})
    earliest = min(r.connected_at for _, r in valid)
    latest = max(r.disconnected_at for _, r in valid)
    stored: dict[int, list[CallRecordRow]] = {}
    for i in range(0, len(site_ids), _CHUNK):
        found = await session.scalars(
            select(CallRecordRow)
            .where(
                CallRecordRow.site_id.in_(site_ids[i : i + _CHUNK]),
                CallRecordRow.connected_at < latest,
                CallRecordRow.disconnected_at > earliest,
            )
            .order_by(CallRecordRow.connected_at)
        )
        for row in found:
            stored.setdefault(row.site_id, []).append(row)
    # A site's stored records do not overlap each other, so sorted by start their ends are
    # sorted too: the only candidate is the last one starting before the new one ends.
    starts = {site: [row.connected_at for row in rows] for site, rows in stored.items()}
    problems = []
    for index, record in valid:
        rows = stored.get(record.site_id, [])
        position = bisect_left(starts.get(record.site_id, []), record.disconnected_at) - 1
        if position < 0 or rows[position].disconnected_at <= record.connected_at:
            continue
        row = rows[position]
        same = (row.connected_at, row.disconnected_at) == (
            record.connected_at,
            record.disconnected_at,
        )
        problems.append(
            RecordProblem(
                index,
                f"{'repeats' if same else 'overlaps'} stored record {row.id} of site "
                f"{row.site_id} ({row.conference_number}, "
                f"{row.connected_at.isoformat()} to {row.disconnected_at.isoformat()})",
            )
        )
    return problems
