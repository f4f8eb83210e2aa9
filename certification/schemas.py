"""The JSON shapes of the certification API."""

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    EmailStr,
    Field,
    computed_field,
)

from bridgedesk.schemas import MULTI_LINE, FromRow, Strict
from bridgedesk.sip_uri import MAX_SIP_URI_LENGTH, address_problem
from certification.models import CertificationRecord, CertificationTest
from certification.service import records, sites
from reservations.models import Site


def _zone(name: str) -> str:
    problem = sites.zone_problem(name)
    if problem:
        raise ValueError(problem)
    return name


def _uri(value: str) -> str:
    problem = address_problem(value)
    if problem:
        raise ValueError(problem)
    return value


ZoneName = Annotated[str, Field(max_length=64), AfterValidator(_zone)]
Uri = Annotated[str, Field(min_length=5, max_length=MAX_SIP_URI_LENGTH), AfterValidator(_uri)]


class ContactIn(Strict):
    name: str = Field(min_length=1, max_length=200)
    phone: str | None = Field(None, max_length=40)
    pager: str | None = Field(None, max_length=40)
    mobile: str | None = Field(None, max_length=40)
    email: EmailStr | None = None


class SitePatch(Strict):
    """Fields to complete or correct; those left out stay as they are."""

    name: str | None = Field(None, min_length=1, max_length=200)
    timezone: ZoneName | None = None
    sip_uri: Uri | None = None
    audio_uri: Uri | None = None
    max_speed_kbps: int | None = Field(None, gt=0, le=100_000)
    billing_zone: str | None = Field(None, min_length=1, max_length=40)
    contacts: list[ContactIn] | None = Field(None, max_length=20)

    def changes(self) -> dict[str, Any]:
        given = self.model_dump(exclude_unset=True)
        for required in ("name", "timezone", "sip_uri", "max_speed_kbps", "billing_zone"):
            if required in given and given[required] is None:
                raise ValueError(f"{required} cannot be removed")
        if "contacts" in given:
            given["contacts"] = [
                c.model_dump(exclude_none=True, mode="json") for c in self.contacts or []
            ]
        return given


class UpgradeIn(Strict):
    note: Annotated[str, MULTI_LINE] | None = Field(None, max_length=500)


class TestOut(FromRow):
    id: int
    site_id: int
    probe_id: int
    outcome: str
    requested_by: str
    requested_at: datetime
    sip_uri: str
    final_status: int | None
    setup_ms: float | None
    codec: str | None
    media_seconds: float | None
    cause: str | None
    detail: str | None
    finished_at: datetime | None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def status(self) -> str:
        return "pending" if self.outcome == "pending" else "done"


class CertificationOut(BaseModel):
    site_id: int
    site_name: str
    kind: str
    state: str
    info_received_at: datetime | None
    deadline_kind: str | None
    rollout_position: int | None
    register_by: datetime | None
    registered_at: datetime | None
    certify_by: datetime | None
    deadline: datetime | None
    overdue: bool
    upgrade_requested_at: datetime | None
    tests: list[TestOut]
    signed_off_by: str | None
    certified_at: datetime | None

    @classmethod
    def from_records(
        cls,
        site: Site,
        record: CertificationRecord,
        tests: Sequence[CertificationTest],
        *,
        now: datetime,
    ) -> Self:
        return cls(
            site_id=site.id,
            site_name=site.name,
            kind=site.kind,
            state=record.state,
            info_received_at=record.info_received_at,
            deadline_kind=record.deadline_kind,
            rollout_position=record.rollout_position,
            register_by=record.register_by,
            registered_at=record.registered_at,
            certify_by=record.certify_by,
            deadline=records.current_deadline(record),
            overdue=records.is_overdue(record, now),
            upgrade_requested_at=record.upgrade_requested_at,
            tests=[TestOut.from_model(t) for t in tests],
            signed_off_by=record.signed_off_by,
            certified_at=record.certified_at,
        )


class HistoryOut(FromRow):
    at: datetime
    actor: str
    field: str
    before: str | None
    after: str | None
    note: str | None


class HistoryList(BaseModel):
    items: list[HistoryOut]


class QueueItem(BaseModel):
    site_id: int
    site_name: str
    customer_id: int
    kind: str
    state: str
    deadline_kind: str | None
    deadline: datetime | None
    register_by: datetime | None
    certify_by: datetime | None
    info_received_at: datetime | None
    overdue: bool

    @classmethod
    def from_row(cls, row: records.QueueRow) -> Self:
        return cls(
            site_id=row.site.id,
            site_name=row.site.name,
            customer_id=row.site.customer_id,
            kind=row.site.kind,
            state=row.record.state,
            deadline_kind=row.record.deadline_kind,
            deadline=row.deadline,
            register_by=row.record.register_by,
            certify_by=row.record.certify_by,
            info_received_at=row.record.info_received_at,
            overdue=row.overdue,
        )


class QueueOut(BaseModel):
    items: list[QueueItem]
    counts: dict[str, int]
    total: int

    @classmethod
    def from_queue(cls, found: records.Queue) -> Self:
        return cls(
            items=[QueueItem.from_row(row) for row in found.rows],
            counts=found.counts,
            total=len(found.rows),
        )


class ImportedOut(BaseModel):
    imported: int
    site_ids: list[int]


class StatsOut(BaseModel):
    month: str
    certified: int
    on_time: int
    late: int
    share_on_time: float | None
