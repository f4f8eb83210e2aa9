"""The bridge's directory of conferences and sites, answered from reservations."""

from collections.abc import Collection, Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bridge.directory import ConferenceRef, Contact, HeldSite, SiteRef
from bridgedesk.models import User
from reservations.models import Conference, Customer
from reservations.service import queries, registry


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


class ReservationsDirectory:
    """`bridge.directory.ConferenceDirectory` over the reservations service."""

    async def conferences(
        self, session: AsyncSession, ids: Collection[int]
    ) -> dict[int, ConferenceRef]:
        found = await queries.conferences_by_ids(session, list(ids))
        refs = await self._refs(session, found.values())
        return {ref.id: ref for ref in refs}

    async def conferences_by_number(
        self, session: AsyncSession, numbers: Collection[str]
    ) -> dict[str, ConferenceRef]:
        found = await queries.conferences_by_numbers(session, list(numbers))
        refs = await self._refs(session, found.values())
        return {ref.number: ref for ref in refs}

    async def sites(self, session: AsyncSession, ids: Collection[int]) -> dict[int, SiteRef]:
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

    async def _refs(
        self, session: AsyncSession, conferences: Iterable[Conference]
    ) -> list[ConferenceRef]:
        conferences = list(conferences)
        if not conferences:
            return []
        users = {
            user.id: user
            for user in await session.scalars(
                select(User).where(User.id.in_({c.requester_id for c in conferences}))
            )
        }
        customers = {
            customer.id: customer
            for customer in await session.scalars(
                select(Customer).where(Customer.id.in_({c.customer_id for c in conferences}))
            )
        }
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
                        HeldSite(h.site_id, h.speed_kbps, h.held, h.added_at)
                        for h in conference.sites
                    ),
                    scheduler=Contact(requester.name, requester.email) if requester else None,
                    primary_contact=_contact(customer.primary_contact) if customer else None,
                )
            )
        return refs
