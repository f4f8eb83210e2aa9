"""Completing and correcting a site's registry entry, and bulk registration from a CSV file,
each change kept in the certification audit trail."""

import csv
import io
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from zoneinfo import available_timezones

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bridgedesk.clock import utcnow
from bridgedesk.errors import InvalidInput
from bridgedesk.identity import Actor
from bridgedesk.sip_uri import DialPolicy
from bridgedesk.text import control_character, refusal
from certification.models import CertificationRecord, CertificationState
from certification.service import calls
from certification.service.recertification import require_recertification
from certification.service.records import (
    actor_label,
    audit,
    ensure_records,
    information_complete,
    lock_record,
    mark_information_received,
    open_records,
    require_certifier,
)
from reservations.models import Site, SiteKind
from reservations.service import registry


async def update_site(
    session: AsyncSession, site_id: int, changes: dict[str, Any], *, by: Actor
) -> Site:
    """Change a site's details; completing its required information starts its deadlines."""
    await ensure_records(session)
    changed = await registry.update_site(session, site_id, changes, by=by)
    site = await registry.get_site(session, site_id, by=by)
    record = await session.get(CertificationRecord, site.id)
    assert record is not None
    who = actor_label(by)
    for name, (before, after) in changed.items():
        audit(session, site.id, who, name, before, after)
    if information_complete(site):
        await mark_information_received(session, record, site, actor=who, at=utcnow())
    if "sip_uri" in changed and record.state == CertificationState.CERTIFIED:
        # The certification proved calls to the old address, not to the new one.
        record = await lock_record(session, site.id)
        if by.is_provider:
            # Provider staff moving a site do it as an upgrade they test the same day.
            await calls.start_upgrade(session, record, site, actor=who, note="SIP URI changed")
        else:
            # A customer's new address is unproven: the site goes back to certification
            # (SPEC §5 "What may be dialed"), bookable with a warning meanwhile.
            await require_recertification(
                session, record, utcnow(), actor=who, note="SIP URI changed by the customer"
            )
    await session.flush()
    return site


# The CSV columns of a rollout import; contact_* columns give the first technical contact.
IMPORT_COLUMNS = (
    "name",
    "kind",
    "timezone",
    "sip_uri",
    "audio_uri",
    "max_speed_kbps",
    "billing_zone",
    "contact_name",
    "contact_email",
    "contact_phone",
    "contact_mobile",
    "contact_pager",
)
REQUIRED_COLUMNS = ("name", "kind", "timezone", "sip_uri", "max_speed_kbps", "billing_zone")
MAX_IMPORT_ROWS = 5000
MAX_IMPORT_BYTES = 2_000_000


@dataclass(frozen=True)
class RowError:
    row: int  # as the user sees the file: the header is row 1, the first site row 2
    message: str
    column: str | None = None


class ImportRefused(InvalidInput):
    message = "The file has errors; nothing was imported."


@dataclass
class _Parsed:
    data: list[registry.SiteData] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


# Files in the zone database that are not zones a site lives in (as reservations refuses).
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory", "leapseconds"})


@cache
def known_zones() -> frozenset[str]:
    return frozenset(available_timezones()) - _NOT_ZONES


def zone_problem(name: str) -> str | None:
    return None if name in known_zones() else f"unknown IANA time zone {name!r}"


async def import_sites(
    session: AsyncSession, customer_id: int, content: bytes, *, by: Actor
) -> list[Site]:
    """Register every site of a CSV file, or none: any bad row refuses the whole file."""
    require_certifier(by, "import sites")
    customer = await registry.get_customer(session, customer_id, by=by)
    if len(content) > MAX_IMPORT_BYTES:
        raise ImportRefused(f"The file is larger than {MAX_IMPORT_BYTES} bytes.", errors=[])
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportRefused("The file is not UTF-8 text.", errors=[]) from None
    existing = set(
        (await session.scalars(select(Site.name).where(Site.customer_id == customer.id))).all()
    )
    parsed = _parse(text, customer.id, existing, await registry.dial_policy(session))
    if parsed.errors:
        raise ImportRefused(
            f"{len({e.row for e in parsed.errors})} row(s) have errors; nothing was imported.",
            errors=[vars(e) for e in parsed.errors],
        )
    await ensure_records(session)
    sites = await registry.create_sites(session, parsed.data, by=by)
    await open_records(session, sites, actor=actor_label(by))
    return sites


def _parse(text: str, customer_id: int, existing: set[str], policy: DialPolicy) -> _Parsed:
    result = _Parsed()
    if "\x00" in text:
        result.errors.append(RowError(1, "The file contains NUL characters."))
        return result
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    unknown = [c for c in header if c not in IMPORT_COLUMNS]
    if missing or unknown:
        problems = []
        if missing:
            problems.append(f"missing column(s): {', '.join(missing)}")
        if unknown:
            problems.append(f"unknown column(s): {', '.join(unknown)}")
        result.errors.append(RowError(1, "; ".join(problems)))
        return result
    reader.fieldnames = header
    seen: dict[str, int] = {}
    count = 0
    for row in reader:
        count += 1
        line = reader.line_num
        if count > MAX_IMPORT_ROWS:
            result.errors.append(RowError(line, f"at most {MAX_IMPORT_ROWS} sites per file"))
            break
        if None in row:
            result.errors.append(RowError(line, "more values than columns"))
            continue
        values = {k: (v or "").strip() for k, v in row.items()}
        errors = _row_errors(line, values, policy)
        name = values.get("name", "")
        if name and name in existing:
            errors.append(RowError(line, f"the customer already has a site named {name!r}", "name"))
        elif name and name in seen:
            errors.append(RowError(line, f"same name as row {seen[name]}", "name"))
        seen.setdefault(name, line)
        if errors:
            result.errors.extend(errors)
            continue
        contact = {
            key: values[f"contact_{key}"]
            for key in ("name", "email", "phone", "mobile", "pager")
            if values.get(f"contact_{key}")
        }
        result.data.append(
            registry.SiteData(
                customer_id=customer_id,
                name=name,
                kind=SiteKind(values["kind"]),
                timezone=values["timezone"],
                sip_uri=values["sip_uri"],
                audio_uri=values.get("audio_uri") or None,
                max_speed_kbps=int(values["max_speed_kbps"]),
                billing_zone=values["billing_zone"],
                contacts=[contact] if contact else [],
            )
        )
    if count == 0 and not result.errors:
        result.errors.append(RowError(1, "the file has no site rows"))
    return result


def _row_errors(line: int, values: dict[str, str], policy: DialPolicy) -> list[RowError]:
    errors = []
    # The edge's one rule for text: a cell is a single line without control characters.
    for column, value in values.items():
        character = control_character(value)
        if character is not None:
            errors.append(RowError(line, refusal(character), column))
    for column in REQUIRED_COLUMNS:
        if not values.get(column):
            errors.append(RowError(line, "required", column))
    limits = {"name": 200, "billing_zone": 40, "contact_name": 200, "contact_email": 254}
    for column, limit in limits.items():
        if len(values.get(column, "")) > limit:
            errors.append(RowError(line, f"at most {limit} characters", column))
    for column in ("contact_phone", "contact_mobile", "contact_pager"):
        if len(values.get(column, "")) > 40:
            errors.append(RowError(line, "at most 40 characters", column))
    kind = values.get("kind")
    if kind and kind not in {k.value for k in SiteKind}:
        errors.append(RowError(line, "must be 'room' or 'external'", "kind"))
    zone = values.get("timezone")
    if zone and zone_problem(zone):
        errors.append(RowError(line, f"unknown IANA time zone {zone!r}", "timezone"))
    for column in ("sip_uri", "audio_uri"):
        uri = values.get(column)
        if uri:
            problem = policy.problem(uri)
            if problem:
                errors.append(RowError(line, problem, column))
    speed = values.get("max_speed_kbps")
    if speed and (not speed.isdigit() or not 0 < int(speed) <= 100_000):
        errors.append(RowError(line, "a whole number of kbps from 1 to 100000", "max_speed_kbps"))
    email = values.get("contact_email")
    if email and ("@" not in email or " " in email):
        errors.append(RowError(line, "not an email address", "contact_email"))
    if any(
        values.get(f"contact_{k}") for k in ("email", "phone", "mobile", "pager")
    ) and not values.get("contact_name"):
        errors.append(RowError(line, "a contact needs a name", "contact_name"))
    return errors
