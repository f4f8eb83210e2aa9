"""The directory port: what the bridge needs to know of conferences and sites, without
importing reservations (the shell implements it in `bridgedesk/directory.py`)."""

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession


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


class ConferenceDirectory(Protocol):
    async def conferences(
        self, session: AsyncSession, ids: Collection[int]
    ) -> dict[int, ConferenceRef]: ...

    async def conferences_by_number(
        self, session: AsyncSession, numbers: Collection[str]
    ) -> dict[str, ConferenceRef]: ...

    async def sites(self, session: AsyncSession, ids: Collection[int]) -> dict[int, SiteRef]: ...
