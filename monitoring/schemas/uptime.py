"""The JSON shapes of uptime: the monthly uptime report, outages and maintenance windows."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from bridgedesk.schemas import FromRow, Instant, Strict
from monitoring.schemas.common import Note

Component = Literal["bridge", "reservations"]


class OutageIn(Strict):
    component: Component
    start: Instant
    end: Instant
    force_majeure: bool = False
    note: Note | None = None


class OutagePatch(Strict):
    force_majeure: bool | None = None
    note: Note | None = None


class OutageOut(FromRow):
    id: int
    component: str
    target: str | None
    source: str
    started_at: datetime
    ended_at: datetime | None
    force_majeure: bool
    note: str | None
    recorded_by: str | None


class WindowIn(Strict):
    component: Component
    start: Instant
    end: Instant
    reason: Annotated[str, Field(min_length=1, max_length=500)]
    notified_at: Instant | None = None


class WindowPatch(Strict):
    start: Instant | None = None
    end: Instant | None = None
    reason: Annotated[str, Field(min_length=1, max_length=500)] | None = None


class NoticeOut(FromRow):
    kind: str
    sent_at: datetime
    starts_at: datetime
    ends_at: datetime
    recipients: int


class WindowOut(FromRow):
    id: int
    component: str
    starts_at: datetime
    ends_at: datetime
    reason: str
    notified_at: datetime
    created_at: datetime
    created_by: str
    cancelled_at: datetime | None
    notices: list[NoticeOut] = []


class ReportIntervalOut(BaseModel):
    kind: str
    start: datetime
    end: datetime
    counted_as: str
    counted_minutes: float
    id: int | None = None
    notified_at: datetime | None = None
    notice_ok: bool | None = None
    note: str | None = None


class UptimeOut(BaseModel):
    component: str
    month: str
    timezone: str
    minutes_in_month: float
    excluded_minutes: float
    eligible_minutes: float
    downtime_minutes: float
    unmonitored_minutes: float
    availability_pct: float
    target_pct: float
    met: bool
    budget_left_minutes: float
    notice_hours: int
    intervals: list[ReportIntervalOut]
