"""The JSON shapes of the help desk's own API: support contracts, best-effort work and
consent, the phone queue, the monthly desk figures and the defect list."""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, Field

from bridgedesk.schemas import FromRow, Id, Strict
from monitoring.service.contracts import AuthorizedPerson, contract_number
from monitoring.service.desk_figures import DeskFigures

Name = Annotated[str, Field(min_length=1, max_length=200)]
Note = Annotated[str, Field(max_length=4000)]


class PersonIn(Strict):
    name: Name
    email: Annotated[str, Field(max_length=254)] | None = None
    phone: Annotated[str, Field(max_length=50)] | None = None

    def to_person(self) -> AuthorizedPerson:
        return AuthorizedPerson(self.name, self.email, self.phone)


System = Annotated[str, Field(min_length=1, max_length=200)]


class ContractIn(Strict):
    customer_id: Id
    policy_id: Id | None = None
    systems: Annotated[list[System], Field(min_length=1, max_length=100)]
    authorized: Annotated[list[PersonIn], Field(max_length=200)] = Field(default_factory=list)
    starts_on: date
    ends_on: date | None = None


class ContractPatch(Strict):
    """Staff may change the terms; an authorized person may only add names."""

    add_authorized: Annotated[list[PersonIn], Field(max_length=200)] = Field(default_factory=list)
    systems: Annotated[list[System], Field(min_length=1, max_length=100)] | None = None
    ends_on: date | None = None
    policy_id: Id | None = None


class PersonOut(BaseModel):
    name: str
    email: str | None
    phone: str | None
    added_by: str | None = None


class ContractOut(BaseModel):
    id: int
    number: str
    customer_id: int
    policy_id: int | None
    systems: list[str]
    authorized: list[PersonOut]
    starts_on: date
    ends_on: date | None
    created_by: str

    @classmethod
    def from_model(cls, row: Any) -> Self:
        return cls(
            id=row.id,
            number=contract_number(row.id),
            customer_id=row.customer_id,
            policy_id=row.policy_id,
            systems=list(row.systems),
            authorized=[PersonOut(**p) for p in row.authorized],
            starts_on=row.starts_on,
            ends_on=row.ends_on,
            created_by=row.created_by,
        )


class ContractsOut(BaseModel):
    items: list[ContractOut]


class WorkIn(Strict):
    minutes: Annotated[int, Field(ge=1, le=24 * 60)]
    note: Note | None = None


class ConsentIn(Strict):
    note: Note | None = None


class ChargeOut(FromRow):
    ticket_id: int
    charged_at: datetime
    minutes: int
    amount: str


class QueuedCallOut(FromRow):
    id: int
    customer_id: int
    caller_name: str | None
    summary: str
    severity: str
    offered_at: datetime


class QueueOut(BaseModel):
    items: list[QueuedCallOut]


class SeverityFiguresOut(BaseModel):
    severity: str
    tickets: int
    responded_on_time: int
    resolved_on_time: int


class DeskFiguresOut(BaseModel):
    month: str
    customer_id: int | None
    phone_offered: int
    phone_answered_within_60s: int
    phone_share: Decimal | None
    phone_target_share: Decimal
    phone_met: bool | None
    emails: int
    emails_answered_within_24h: int
    email_share: Decimal | None
    severities: list[SeverityFiguresOut]

    @classmethod
    def from_figures(cls, figures: DeskFigures) -> Self:
        return cls(
            month=figures.month,
            customer_id=figures.customer_id,
            phone_offered=figures.phone_offered,
            phone_answered_within_60s=figures.phone_answered_within_60s,
            phone_share=figures.phone_share,
            phone_target_share=figures.phone_target_share,
            phone_met=figures.phone_met,
            emails=figures.emails,
            emails_answered_within_24h=figures.emails_answered_within_24h,
            email_share=figures.email_share,
            severities=[
                SeverityFiguresOut(
                    severity=s.severity,
                    tickets=s.tickets,
                    responded_on_time=s.responded_on_time,
                    resolved_on_time=s.resolved_on_time,
                )
                for s in figures.severities
            ],
        )


class DefectIn(Strict):
    kind: Literal["defect", "enhancement"] = "defect"
    title: Annotated[str, Field(min_length=1, max_length=300)]
    description: Annotated[str, Field(min_length=1, max_length=20_000)]


class ReleaseIn(Strict):
    release: Annotated[str, Field(min_length=1, max_length=100)]


class AwaitPatchIn(Strict):
    defect_id: Id
    note: Note | None = None


class DefectOut(FromRow):
    id: int
    kind: str
    title: str
    description: str
    status: str
    created_by: str
    created_at: datetime
    released_at: datetime | None
    release: str | None
    ticket_ids: list[int] = []


class DefectsOut(BaseModel):
    items: list[DefectOut]
