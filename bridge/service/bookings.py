"""What the bridge knows of booked conferences and sites, read from reservations' service: the
shapes its launch, supervision, recovery and call records work with."""

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bridgedesk.models import User
from reservations.models import Conference
from reservations.service import queries, registry


@dataclass(frozen=True)
class Contact:
    name: str
    email: str | None
    phone: str | None = None
    pager: str | None = None
    mobile: str | None = None


@dataclass(frozen=True)
class SiteRef:
    id: int
    customer_id: int
    name: str
    sip_uri: str
    audio_uri: str | None
    max_speed_kbps: int
    # The site's technical contacts, in the order they are to be called.
    contacts: tuple[Contact, ...]


@dataclass(frozen=True)
class HeldSite:
    site_id: int
    speed_kbps: int
    # False once the site's hold was released (the conference ended early before it began).
    held: bool
    # Set when the site joined a conference already under way.
    added_at: datetime | None


@dataclass(frozen=True)
class ConferenceRef:
    id: int
    number: str
    customer_id: int
    title: str
    # requested | confirmed | live | ended | cancelled
    status: str
    starts_at: datetime
    ends_at: datetime
    bridge_id: int | None
    adhoc: bool
    recorded: bool
    sites: tuple[HeldSite, ...]
    # The contact chain after the site's contacts: the scheduler who booked, then the
    # customer's primary contact.
    scheduler: Contact | None
    primary_contact: Contact | None


def _contact(raw: Any) -> Contact | None:
    if not isinstance(raw, dict):
        return None
    return Contact(
        name=str(raw.get("name") or ""),
        email=raw.get("email") or None,
        phone=raw.get("phone") or None,
        pager=raw.get("pager") or None,
        mobile=raw.get("mobile") or None,
    )


async def conferences(session: AsyncSession, ids: Collection[int]) -> dict[int, ConferenceRef]:
    found = await queries.conferences_by_ids(session, list(ids))
    refs = await _refs(session, found.values())
    return {ref.id: ref for ref in refs}


async def conferences_by_number(
    session: AsyncSession, numbers: Collection[str]
) -> dict[str, ConferenceRef]:
    found = await queries.conferences_by_numbers(session, list(numbers))
    refs = await _refs(session, found.values())
    return {ref.number: ref for ref in refs}


async def sites(session: AsyncSession, ids: Collection[int]) -> dict[int, SiteRef]:
    found = await registry.sites_by_id(session, sorted(set(ids)))
    return {
        site.id: SiteRef(
            id=site.id,
            customer_id=site.customer_id,
            name=site.name,
            sip_uri=site.sip_uri,
            audio_uri=site.audio_uri,
            max_speed_kbps=site.max_speed_kbps,
            contacts=tuple(
                c for c in (_contact(raw) for raw in site.contacts or []) if c is not None
            ),
        )
        for site in found.values()
    }


async def _refs(session: AsyncSession, found: Iterable[Conference]) -> list[ConferenceRef]:
    conferences = list(found)
    if not conferences:
        return []
    users = {
        user.id: user
        for user in await session.scalars(
            select(User).where(User.id.in_({c.requester_id for c in conferences}))
        )
    }
    customers = await registry.customers_by_id(session, {c.customer_id for c in conferences})
    refs = []
    for conference in conferences:
        requester = users.get(conference.requester_id)
        customer = customers.get(conference.customer_id)
        refs.append(
            ConferenceRef(
                id=conference.id,
                number=conference.number or "",
                customer_id=conference.customer_id,
                title=conference.title,
                status=str(conference.status),
                starts_at=conference.starts_at,
                ends_at=conference.ends_at,
                bridge_id=conference.bridge_id,
                adhoc=conference.adhoc,
                recorded=conference.recorded,
                sites=tuple(
                    HeldSite(h.site_id, h.speed_kbps, h.held, h.added_at) for h in conference.sites
                ),
                scheduler=Contact(requester.name, requester.email) if requester else None,
                primary_contact=_contact(customer.primary_contact) if customer else None,
            )
        )
    return refs
