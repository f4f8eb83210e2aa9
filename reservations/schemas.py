"""The JSON shapes of the reservations API (SPEC §9); models never leak out directly."""

from datetime import datetime
from functools import cache
from typing import Annotated, Self
from zoneinfo import available_timezones

from pydantic import (
    AfterValidator,
    BaseModel,
    EmailStr,
    Field,
    model_validator,
)

from bridgedesk.schemas import FromRow, Id, Instant, Strict
from bridgedesk.sip_uri import MAX_SIP_URI_LENGTH, address_problem, sip_uri_problem
from reservations.models import Conference, ConferenceStatus, SiteKind
from reservations.service.booking import (
    MAX_CONFERENCE_LENGTH,
    MAX_NAME,
    MAX_PROJECT_CODE,
    BookingRequest,
    SiteRequest,
)
from reservations.service.confirmation import is_overdue
from reservations.service.live import OverrunConflict
from reservations.service.registry import BridgeData, ContactView, CustomerData, SiteData
from reservations.service.rescheduling import Scope

# Files in the zone database that are not zones: the host's own setting and rule templates.
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory", "leapseconds"})


@cache
def _iana_zones() -> frozenset[str]:
    return frozenset(available_timezones()) - _NOT_ZONES


def _known_zone(name: str) -> str:
    """An IANA zone name; "localtime" and folder names are not zones a customer lives in."""
    if name not in _iana_zones():
        raise ValueError(f"unknown IANA time zone {name!r}")
    return name


def _site_address(value: str) -> str:
    """The form of a site's address; whether it may be dialed is the service's dial policy."""
    problem = address_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _bridge_uri(value: str) -> str:
    problem = sip_uri_problem(value)
    if problem:
        raise ValueError(problem)
    return value


TimeZoneName = Annotated[str, Field(max_length=64), AfterValidator(_known_zone)]
Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME)]
SiteAddress = Annotated[
    str, Field(min_length=5, max_length=MAX_SIP_URI_LENGTH), AfterValidator(_site_address)
]
BridgeUri = Annotated[
    str, Field(min_length=5, max_length=MAX_SIP_URI_LENGTH), AfterValidator(_bridge_uri)
]
Speed = Annotated[int, Field(gt=0, le=100_000)]


class ContactIn(Strict):
    name: Name
    phone: str | None = Field(None, max_length=40)
    pager: str | None = Field(None, max_length=40)
    mobile: str | None = Field(None, max_length=40)
    email: EmailStr | None = None


class CustomerIn(Strict):
    name: Name
    timezone: TimeZoneName
    billing_emails: list[EmailStr] = Field(default_factory=list, max_length=20)
    primary_contact: ContactIn | None = None

    def to_data(self) -> CustomerData:
        contact = (
            self.primary_contact.model_dump(exclude_none=True) if self.primary_contact else None
        )
        return CustomerData(
            self.name, self.timezone, [str(e) for e in self.billing_emails], contact
        )


class CustomerOut(FromRow):
    id: int
    name: str
    timezone: str
    billing_emails: list[str]
    primary_contact: ContactView | None


class SiteIn(Strict):
    customer_id: Id
    name: Name
    kind: SiteKind
    timezone: TimeZoneName
    sip_uri: SiteAddress
    audio_uri: SiteAddress | None = None
    max_speed_kbps: Speed
    billing_zone: str = Field(min_length=1, max_length=40)
    contacts: list[ContactIn] = Field(default_factory=list, max_length=20)

    def to_data(self) -> SiteData:
        return SiteData(
            customer_id=self.customer_id,
            name=self.name,
            kind=self.kind,
            timezone=self.timezone,
            sip_uri=self.sip_uri,
            audio_uri=self.audio_uri,
            max_speed_kbps=self.max_speed_kbps,
            billing_zone=self.billing_zone,
            contacts=[c.model_dump(exclude_none=True) for c in self.contacts],
        )


class BridgeIn(Strict):
    name: Name
    sip_uri: BridgeUri
    ports: int = Field(gt=0, le=10_000)
    adhoc_reserve: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _reserve_within_ports(self) -> Self:
        if self.adhoc_reserve > self.ports:
            raise ValueError("adhoc_reserve cannot exceed ports")
        return self

    def to_data(self) -> BridgeData:
        return BridgeData(self.name, self.sip_uri, self.ports, self.adhoc_reserve)


class BridgeOut(FromRow):
    id: int
    name: str
    sip_uri: str
    ports: int
    adhoc_reserve: int


class SiteRequestIn(Strict):
    site_id: Id
    speed_kbps: Speed | None = None


class ConferenceIn(Strict):
    customer_id: Id
    title: Name
    leader_name: Name
    start: Instant
    end: Instant
    sites: list[SiteRequestIn] = Field(min_length=1, max_length=200)
    project_code: str | None = Field(None, max_length=MAX_PROJECT_CODE)
    features: list[Annotated[str, Field(min_length=1, max_length=40)]] = Field(
        default_factory=list, max_length=20
    )
    record: bool = False
    recurrence: "RecurrenceIn | None" = None

    @model_validator(mode="after")
    def _sane_times(self) -> Self:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        if self.end - self.start > MAX_CONFERENCE_LENGTH:
            raise ValueError("a conference may last at most 24 hours")
        return self

    def to_request(self) -> BookingRequest:
        return BookingRequest(
            customer_id=self.customer_id,
            title=self.title,
            leader_name=self.leader_name,
            start=self.start,
            end=self.end,
            sites=[SiteRequest(s.site_id, s.speed_kbps) for s in self.sites],
            project_code=self.project_code or None,
            features=tuple(self.features),
            record=self.record,
        )


class HeldSiteOut(FromRow):
    site_id: int
    speed_kbps: int


class ConferenceOut(BaseModel):
    id: int
    number: str
    customer_id: int
    title: str
    leader_name: str
    requester_id: int
    requester_name: str
    project_code: str | None
    features: list[str]
    start: datetime
    end: datetime
    status: ConferenceStatus
    recorded: bool
    booked_at: datetime
    confirmation_due: datetime | None
    confirmed_at: datetime | None
    confirmed_by: str | None
    overdue: bool
    sites: list[HeldSiteOut]
    series_id: int | None = None
    adhoc: bool = False
    overflow: bool = False
    ready_by: datetime | None = None
    bridge_id: int | None = None
    # Sites not (or no longer) certified: the booking stands, with these warnings (SPEC §4).
    warnings: list[str] = Field(default_factory=list)

    @classmethod
    def from_model(cls, c: Conference, *, now: datetime) -> Self:
        return cls(
            id=c.id,
            number=c.number or "",
            customer_id=c.customer_id,
            title=c.title,
            leader_name=c.leader_name,
            requester_id=c.requester_id,
            requester_name=c.requester_name,
            project_code=c.project_code,
            features=c.features,
            start=c.starts_at,
            end=c.ends_at,
            status=c.status,
            recorded=c.recorded,
            booked_at=c.booked_at,
            confirmation_due=c.confirmation_due,
            confirmed_at=c.confirmed_at,
            confirmed_by=c.confirmed_by,
            overdue=is_overdue(c, now),
            sites=[HeldSiteOut.from_model(h) for h in c.sites],
            series_id=c.series_id,
            adhoc=c.adhoc,
            overflow=c.overflow,
            ready_by=c.ready_by,
            bridge_id=c.bridge_id,
        )


class ConferenceList(BaseModel):
    items: list[ConferenceOut]
    total: int


class BusyOut(BaseModel):
    start: datetime
    end: datetime
    conference_number: str


class SiteBusyOut(BaseModel):
    site_id: int
    site_name: str
    busy: list[BusyOut]


class AvailabilityOut(BaseModel):
    sites: list[SiteBusyOut]


class RecurrenceIn(Strict):
    rrule: str = Field(min_length=6, max_length=300)
    skip_conflicts: bool = False


class OccurrenceOut(BaseModel):
    id: int
    number: str
    start: datetime
    end: datetime
    status: ConferenceStatus
    confirmation_due: datetime | None

    @classmethod
    def from_model(cls, c: Conference) -> Self:
        return cls(
            id=c.id,
            number=c.number or "",
            start=c.starts_at,
            end=c.ends_at,
            status=c.status,
            confirmation_due=c.confirmation_due,
        )


class ConflictOut(BaseModel):
    """A booking in the way, as a 409's `conflicts` gives it (`SiteConflict.as_dict`)."""

    site_id: int
    site_name: str
    conference_number: str
    start: str
    end: str


class SkippedOut(BaseModel):
    index: int
    start: datetime
    end: datetime
    conflicts: list[ConflictOut]


class SeriesConferenceOut(ConferenceOut):
    """A booked series answers with its first meeting plus every occurrence and skip."""

    series_id: int
    rrule: str
    occurrences: list[OccurrenceOut]
    skipped: list[SkippedOut]


class SeriesOut(BaseModel):
    id: int
    customer_id: int
    rrule: str
    timezone: str
    first_start: datetime
    duration_minutes: int
    occurrences: list[OccurrenceOut]


class AdhocIn(Strict):
    customer_id: Id
    title: Name
    leader_name: Name
    sites: list[SiteRequestIn] = Field(min_length=1, max_length=200)
    minutes: int = Field(60, ge=1, le=1440)


class UnavailableSiteOut(BaseModel):
    site_id: int
    site_name: str
    conference_number: str
    start: datetime
    end: datetime


class AdhocOut(ConferenceOut):
    unavailable_sites: list[UnavailableSiteOut]


class ExtendIn(Strict):
    minutes: int = Field(ge=1, le=720)


class ExtendedOut(ConferenceOut):
    # The service's own result, answered as it is (no mirror of its fields).
    overrun_conflicts: list[OverrunConflict]


class CancelIn(Strict):
    scope: Scope = Scope.THIS


class MoveIn(Strict):
    start: Instant
    end: Instant
    scope: Scope = Scope.THIS


class ConferencesOut(BaseModel):
    items: list[ConferenceOut]


ConferenceIn.model_rebuild()
