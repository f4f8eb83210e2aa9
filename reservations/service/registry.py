"""Customers, their sites and the provider's bridges: who and what can be booked."""

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bridgedesk.clock import utcnow
from bridgedesk.db import MAX_KEY, add_unique
from bridgedesk.errors import Conflict, Forbidden, NotFound
from bridgedesk.identity import Actor, Role
from bridgedesk.schemas import FromRow
from bridgedesk.settings import get_settings
from bridgedesk.sip_uri import DialPolicy
from reservations.models import Bridge, Customer, Site, SiteKind


class CustomerNotFound(NotFound):
    message = "No such customer."


class SiteNotFound(NotFound):
    message = "No such site."


class NameTaken(Conflict):
    message = "That name is already taken."


@dataclass(frozen=True)
class CustomerData:
    name: str
    timezone: str
    billing_emails: Sequence[str] = ()
    primary_contact: dict[str, Any] | None = None


@dataclass(frozen=True)
class SiteData:
    customer_id: int
    name: str
    kind: SiteKind
    timezone: str
    sip_uri: str
    max_speed_kbps: int
    billing_zone: str
    audio_uri: str | None = None
    contacts: Sequence[dict[str, Any]] = field(default_factory=tuple)


def _empty(value: str | None) -> bool:
    return value is None


class ContactView(BaseModel):
    """A person to call about a customer or site; stored without its empty fields, and shown
    without them too."""

    name: str
    phone: str | None = Field(None, exclude_if=_empty)
    pager: str | None = Field(None, exclude_if=_empty)
    mobile: str | None = Field(None, exclude_if=_empty)
    email: str | None = Field(None, exclude_if=_empty)


class SiteView(FromRow):
    """A site as every API shows it (the registry's and certification's edits alike)."""

    id: int
    customer_id: int
    name: str
    kind: str
    timezone: str
    sip_uri: str
    audio_uri: str | None
    max_speed_kbps: int
    billing_zone: str
    contacts: list[ContactView]
    certification_state: str


@dataclass(frozen=True)
class BridgeData:
    name: str
    sip_uri: str
    ports: int
    adhoc_reserve: int


def customer_zone(customer: Customer) -> ZoneInfo:
    return ZoneInfo(customer.timezone)


# The provider's operators and admins register customers and bridges.
PROVIDER_REGISTRARS = frozenset({Role.ADMIN, Role.OPERATOR})


def _check_registrar(by: Actor | None, what: str) -> None:
    """`by=None` is the command line (demo data), run by whoever holds the server."""
    if by is not None and by.role not in PROVIDER_REGISTRARS:
        raise Forbidden(f"Only operators and admins register {what}.")


async def create_customer(
    session: AsyncSession, data: CustomerData, *, by: Actor | None
) -> Customer:
    _check_registrar(by, "customers")
    customer = Customer(
        name=data.name,
        timezone=data.timezone,
        billing_emails=list(data.billing_emails),
        primary_contact=data.primary_contact,
        created_at=utcnow(),
    )
    await add_unique(
        session, customer, NameTaken(f"A customer named {data.name!r} already exists.")
    )
    return customer


async def get_customer(session: AsyncSession, customer_id: int, *, by: Actor) -> Customer:
    """The customer, if `by` may see it; another customer's users get 404, not a hint."""
    customer = await session.get(Customer, customer_id)
    if customer is None or not by.may_see_customer(customer.id):
        raise CustomerNotFound()
    return customer


async def customers_by_id(
    session: AsyncSession, customer_ids: Collection[int]
) -> dict[int, Customer]:
    """The customers by id, without an actor: for the bridge's jobs, which act for the provider."""
    if not customer_ids:
        return {}
    rows = await session.scalars(select(Customer).where(Customer.id.in_(list(customer_ids))))
    return {customer.id: customer for customer in rows}


async def list_customers(session: AsyncSession, *, by: Actor) -> Sequence[Customer]:
    query = select(Customer).order_by(Customer.name)
    if not by.is_provider:
        query = query.where(Customer.id == by.customer_id)
    return (await session.scalars(query)).all()


# Customer schedulers register their own sites; provider staff register anyone's.
SITE_REGISTRARS = frozenset({Role.ADMIN, Role.OPERATOR, Role.TECHNICIAN, Role.SCHEDULER})


async def dial_policy(session: AsyncSession) -> DialPolicy:
    """SPEC §5 "What may be dialed", with the registered bridges as endpoints never called."""
    own = (await session.scalars(select(Bridge.sip_uri))).all()
    return DialPolicy.from_settings(own_uris=own)


def check_site_addresses(policy: DialPolicy, sip_uri: str | None, audio_uri: str | None) -> None:
    """A site's video and audio addresses must both be dialable (422 naming the field)."""
    if sip_uri is not None:
        policy.check(sip_uri, field_name="sip_uri")
    if audio_uri is not None:
        policy.check(audio_uri, field_name="audio_uri")


async def create_site(session: AsyncSession, data: SiteData, *, by: Actor) -> Site:
    if by.role not in SITE_REGISTRARS:
        raise Forbidden("Your role may not register sites.")
    customer = await get_customer(session, data.customer_id, by=by)
    check_site_addresses(await dial_policy(session), data.sip_uri, data.audio_uri)
    site = Site(
        customer_id=customer.id,
        name=data.name,
        kind=data.kind,
        timezone=data.timezone,
        sip_uri=data.sip_uri,
        audio_uri=data.audio_uri,
        max_speed_kbps=data.max_speed_kbps,
        billing_zone=data.billing_zone,
        contacts=[dict(contact) for contact in data.contacts],
        certification_state="registered",
        created_at=utcnow(),
    )
    await add_unique(
        session, site, NameTaken(f"{customer.name} already has a site named {data.name!r}.")
    )
    return site


async def get_site(session: AsyncSession, site_id: int, *, by: Actor) -> Site:
    # An id past the database's INTEGER is no site at all (looking it up would overflow).
    site = await session.get(Site, site_id) if 1 <= site_id <= MAX_KEY else None
    if site is None or not by.may_see_customer(site.customer_id):
        raise SiteNotFound()
    return site


async def list_sites(
    session: AsyncSession, *, by: Actor, customer_id: int | None = None
) -> Sequence[Site]:
    query = select(Site).order_by(Site.customer_id, Site.name)
    if not by.is_provider:
        query = query.where(Site.customer_id == by.customer_id)
    if customer_id is not None:
        query = query.where(Site.customer_id == customer_id)
    return (await session.scalars(query)).all()


async def sites_by_id(
    session: AsyncSession, site_ids: Sequence[int], *, lock: bool = False
) -> dict[int, Site]:
    """The sites by id; `lock` takes them FOR NO KEY UPDATE until the transaction ends.

    Bookings lock their sites in one global order (by id) before checking for conflicts: two
    bookings of the same site then queue instead of both passing the check and meeting in the
    exclusion constraint, where PostgreSQL may pick one as a deadlock victim (a 500).
    """
    if not site_ids:
        return {}
    query = select(Site).where(Site.id.in_(site_ids)).order_by(Site.id)
    if lock and get_settings().booking_site_lock:
        query = query.with_for_update(key_share=True)
    rows = await session.scalars(query)
    return {site.id: site for site in rows}


async def set_certification_state(session: AsyncSession, site_id: int, state: str) -> Site:
    """Certification's way to publish a site's state to bookings (it owns the workflow)."""
    site = await session.get(Site, site_id)
    if site is None:
        raise SiteNotFound()
    site.certification_state = state
    await session.flush()
    return site


async def create_bridge(session: AsyncSession, data: BridgeData, *, by: Actor | None) -> Bridge:
    _check_registrar(by, "bridges")
    bridge = Bridge(
        name=data.name, sip_uri=data.sip_uri, ports=data.ports, adhoc_reserve=data.adhoc_reserve
    )
    await add_unique(session, bridge, NameTaken(f"A bridge named {data.name!r} already exists."))
    return bridge


async def list_bridges(session: AsyncSession) -> Sequence[Bridge]:
    return (await session.scalars(select(Bridge).order_by(Bridge.name))).all()


async def count_customers(session: AsyncSession) -> int:
    return await session.scalar(select(func.count(Customer.id))) or 0


# Fields of a site that may be completed or corrected after registration.
EDITABLE_SITE_FIELDS = frozenset(
    {"name", "timezone", "sip_uri", "audio_uri", "max_speed_kbps", "billing_zone", "contacts"}
)


async def update_site(
    session: AsyncSession, site_id: int, changes: dict[str, Any], *, by: Actor
) -> dict[str, tuple[Any, Any]]:
    """Apply `changes` to a site `by` may register; returns {field: (before, after)} changed.

    Certification calls this (and keeps the audit trail): it owns when information is complete.
    """
    if by.role not in SITE_REGISTRARS:
        raise Forbidden("Your role may not change sites.")
    unknown = set(changes) - EDITABLE_SITE_FIELDS
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    site = await get_site(session, site_id, by=by)
    if changes.get("sip_uri") or changes.get("audio_uri"):
        check_site_addresses(
            await dial_policy(session), changes.get("sip_uri"), changes.get("audio_uri")
        )
    new_name = changes.get("name")
    if new_name is not None and new_name != site.name:
        taken = await session.scalar(
            select(Site.id).where(Site.customer_id == site.customer_id, Site.name == new_name)
        )
        if taken is not None:
            raise NameTaken(f"The customer already has a site named {new_name!r}.")
    changed: dict[str, tuple[Any, Any]] = {}
    for name, value in changes.items():
        before = getattr(site, name)
        if name == "contacts":
            value = [dict(contact) for contact in value]
        if before != value:
            changed[name] = (before, value)
            setattr(site, name, value)
    await session.flush()
    return changed


async def certification_warnings_by_site(
    session: AsyncSession, site_ids: Sequence[int]
) -> dict[int, str]:
    """What a booking of these sites should warn about, per site not (or no longer) certified.

    Certification owns the state (it writes it through `set_certification_state`); a site in
    `recertification_required` stays bookable, with this warning on every booking (SPEC §4).
    """
    warnings = {}
    for site in (await sites_by_id(session, site_ids)).values():
        state = site.certification_state
        if state == "recertification_required":
            warnings[site.id] = (
                f"{site.name} must be re-certified (network problems in a conference, or "
                "a new SIP address); it may not connect reliably."
            )
        elif state == "upgrade_pending":
            warnings[site.id] = f"{site.name} is being upgraded; its certification is pending."
        elif state != "certified":
            warnings[site.id] = f"{site.name} is not certified yet ({state})."
    return warnings


async def certification_warnings(session: AsyncSession, site_ids: Sequence[int]) -> list[str]:
    warned = await certification_warnings_by_site(session, site_ids)
    return [warned[site_id] for site_id in site_ids if site_id in warned]


async def create_sites(session: AsyncSession, data: Sequence[SiteData], *, by: Actor) -> list[Site]:
    """Register many sites at once (a rollout), all or none; one insert round for the lot."""
    if by.role not in SITE_REGISTRARS:
        raise Forbidden("Your role may not register sites.")
    customers = {
        customer_id: await get_customer(session, customer_id, by=by)
        for customer_id in sorted({d.customer_id for d in data})
    }
    policy = await dial_policy(session)
    for d in data:
        check_site_addresses(policy, d.sip_uri, d.audio_uri)
    now = utcnow()
    sites = [
        Site(
            customer_id=d.customer_id,
            name=d.name,
            kind=d.kind,
            timezone=d.timezone,
            sip_uri=d.sip_uri,
            audio_uri=d.audio_uri,
            max_speed_kbps=d.max_speed_kbps,
            billing_zone=d.billing_zone,
            contacts=[dict(contact) for contact in d.contacts],
            certification_state="registered",
            created_at=now,
        )
        for d in data
    ]
    names = ", ".join(sorted(c.name for c in customers.values()))
    try:
        async with session.begin_nested():
            session.add_all(sites)
            await session.flush()
    except IntegrityError:
        raise NameTaken(f"A site name is already taken at {names}.") from None
    return sites
