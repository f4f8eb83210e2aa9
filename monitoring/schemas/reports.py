"""The JSON shapes of the monthly figures: a customer's call statistics and service report."""

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel

from bridgedesk.schemas import FromRow


class CauseOut(BaseModel):
    cause: str
    label: str
    provider_side: bool
    count: int
    share_of_calls_pct: float | None


class TurnaroundOut(BaseModel):
    count: int
    connected: int
    within_target: int
    within_target_pct: float | None
    median_seconds: float | None
    max_seconds: float | None
    target_seconds: int


class CallStatsOut(BaseModel):
    customer_id: int
    month: str
    timezone: str
    calls: int
    failed_calls: int
    failure_rate_pct: float | None
    failure_target_pct: float
    failure_met: bool | None
    failures_by_cause: list[CauseOut]
    customer_side_failures: int
    provider_side_failures: int
    launches: int
    launches_decided: int
    launches_on_time: int
    on_time_pct: float | None
    on_time_target_pct: float
    on_time_met: bool | None
    recovery_events: int
    restored_within_5_min: int
    restored_pct: float | None
    restored_target_pct: float
    restored_met: bool | None
    drops_past_window: int
    drops_with_audio_link: int
    adhoc: TurnaroundOut | None
    add_site: TurnaroundOut | None


class CommitmentOut(FromRow):
    """One promise of the service description, measured for the month."""

    key: str
    description: str
    target: str
    value: str | None
    # The number behind `value` (a percentage), None when nothing happened to measure.
    figure: Decimal | None
    met: bool | None
    # The intervals and events behind the figure, so the customer can recompute it.
    evidence: list[str]


class ServiceReportOut(FromRow):
    customer_id: int
    customer_name: str
    month: str
    timezone: str
    generated_at: datetime
    missed: list[str]
    commitments: list[CommitmentOut]
