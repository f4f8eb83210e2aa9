"""The provider's published certification deadlines (SPEC §1, §4), as data and pure rules."""

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from reservations.models import SiteKind


@dataclass(frozen=True)
class FirstCertification:
    register_within: timedelta | None
    certify_within: timedelta


# "A scheduled (external) site certified within 24 h of receiving its complete information";
# "an internal conference room registered within 24 h and certified within 48 h".
CERTIFICATION_DEADLINES: dict[SiteKind, FirstCertification] = {
    SiteKind.EXTERNAL: FirstCertification(None, timedelta(hours=24)),
    SiteKind.ROOM: FirstCertification(timedelta(hours=24), timedelta(hours=48)),
}
# "More than 75 sites in a customer's first rollout: deadlines stretch": the k-th site awaiting
# first certification is pushed by floor((k - 1) / 75) x 48 h.
ROLLOUT_BATCH = 75
ROLLOUT_STEP = timedelta(hours=48)
# "A site with network problems during a conference is re-certified", within 24 h.
RECERTIFY_WITHIN = timedelta(hours=24)
# Technicians hear about a deadline this long before it passes.
WARN_BEFORE = timedelta(hours=4)


@dataclass(frozen=True)
class Deadlines:
    register_by: datetime | None
    certify_by: datetime


def rollout_shift(position: int) -> timedelta:
    """How far the rollout rule pushes the deadline of the k-th site awaiting certification."""
    if position < 1:
        raise ValueError("rollout positions count from 1")
    return ((position - 1) // ROLLOUT_BATCH) * ROLLOUT_STEP


def first_certification(kind: SiteKind, info_received_at: datetime, position: int) -> Deadlines:
    """Deadlines of a new site whose information was complete at `info_received_at`."""
    rule = CERTIFICATION_DEADLINES[SiteKind(kind)]
    shift = rollout_shift(position)
    return Deadlines(
        register_by=(
            info_received_at + rule.register_within + shift if rule.register_within else None
        ),
        certify_by=info_received_at + rule.certify_within + shift,
    )


def upgrade_due(requested_at: datetime, zone: ZoneInfo) -> datetime:
    """An upgrade is applied the same day: by the next midnight in the site's own zone."""
    local_day = requested_at.astimezone(zone).date()
    midnight = datetime.combine(local_day + timedelta(days=1), time(0), tzinfo=zone)
    return midnight.astimezone(UTC)


def recertification_due(fault_at: datetime) -> datetime:
    return fault_at + RECERTIFY_WITHIN
