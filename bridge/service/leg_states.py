"""The vocabulary of legs: their states and kinds, the recovery policy from settings, and
asking the engine for a leg's next call."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bridge.engine.classes import WorkClass, dial_class
from bridge.models import Dial, Leg, LegAttempt
from bridge.service import dials
from bridgedesk.settings import get_settings


class LegState:
    """SPEC §5: dialing → connected → dropped → reconnecting → connected | audio_fallback |
    failed; and ended once the conference is over (or the audio link is no longer needed)."""

    DIALING = "dialing"
    CONNECTED = "connected"
    # Down, waiting for its next dial (backoff).
    DROPPED = "dropped"
    # Down, a redial in flight.
    RECONNECTING = "reconnecting"
    # Past the recovery window with the site's audio link dialed; video redials go on.
    AUDIO_FALLBACK = "audio_fallback"
    # Past the recovery window and no audio link to dial; video redials go on.
    FAILED = "failed"
    ENDED = "ended"


VIDEO, AUDIO = "video", "audio"
# Audio links are billed and rated as a narrowband call.
AUDIO_SPEED_KBPS = 64
# Conference statuses in which the bridge keeps its legs up.
RUNNING_STATUSES = ("requested", "confirmed", "live")
# A leg whose SIP URI cannot be dialed at all fails at once with this cause: the site's
# registration is wrong, the customer's side to put right (SPEC §1 causes).
# Past the entry rule, a URI that cannot be dialed is the provider's own failure (a row
# written around the rule, a gateway since removed), never the site's network.
UNDIALABLE_CAUSE = dials.UNDIALABLE_CAUSE
# The window of the per-target redial limit.
REDIAL_LIMIT_WINDOW = timedelta(minutes=1)


@dataclass(frozen=True)
class RecoveryPolicy:
    """SPEC §5 "every site reconnected within a 5-min troubleshooting window", as settings."""

    window: timedelta
    backoff_initial: timedelta
    backoff_cap: timedelta
    contact_step: timedelta
    on_time_threshold: timedelta

    @classmethod
    def from_settings(cls) -> "RecoveryPolicy":
        s = get_settings()
        return cls(
            window=timedelta(seconds=s.recovery_window_seconds),
            backoff_initial=timedelta(seconds=s.redial_backoff_initial_seconds),
            backoff_cap=timedelta(seconds=s.redial_backoff_cap_seconds),
            contact_step=timedelta(seconds=s.contact_chain_step_seconds),
            on_time_threshold=timedelta(seconds=s.on_time_threshold_seconds),
        )

    def backoff(self, dials_since_connected: int) -> timedelta:
        """At once after a drop, then doubling from the initial wait up to the cap."""
        if dials_since_connected <= 0:
            return timedelta(0)
        return min(self.backoff_cap, self.backoff_initial * (1 << (dials_since_connected - 1)))


async def busy_elsewhere(session: AsyncSession, leg: Leg) -> bool:
    """Whether the site is connected in another conference (an overrun into this one)."""
    found = await session.scalar(
        select(Leg.id)
        .where(
            Leg.site_id == leg.site_id,
            Leg.conference_id != leg.conference_id,
            Leg.state == LegState.CONNECTED,
        )
        .limit(1)
    )
    return found is not None


async def dial_leg(session: AsyncSession, leg: Leg, purpose: str, *, now: datetime) -> bool:
    """Ask the engine for the leg's next call and record the attempt; False when no call
    was asked for: the URI cannot be dialed (the leg is `failed` with a cause, and nothing
    else waits on it), or the target had its share of redials this minute (later)."""
    problem = await dials.undialable_reason(session, leg.sip_uri)
    if problem:
        _fail_undialable(session, leg, purpose, problem, now=now)
        return False
    if dial_class(purpose) == WorkClass.RECOVERY:
        wait_until = await _redial_limit(session, leg.sip_uri, now=now)
        if wait_until is not None:
            leg.next_dial_at = wait_until
            return False
    view = await dials.request_dial(
        session,
        sip_uri=leg.sip_uri,
        purpose=purpose,
        leg_id=leg.id,
        conference_id=leg.conference_id,
    )
    leg.dial_id = view.id
    leg.next_dial_at = None
    leg.redials += 1
    session.add(
        LegAttempt(
            leg_id=leg.id,
            conference_id=leg.conference_id,
            site_id=leg.site_id,
            dial_id=view.id,
            purpose=purpose,
            requested_at=view.requested_at,
        )
    )
    await session.flush()
    return True


def _fail_undialable(
    session: AsyncSession, leg: Leg, purpose: str, problem: str, *, now: datetime
) -> None:
    leg.dial_id = None
    leg.next_dial_at = None
    leg.cause = UNDIALABLE_CAUSE
    leg.detail = f"not dialable: {problem}"[:300]
    if leg.state != LegState.FAILED:
        leg.state = LegState.FAILED
        leg.state_changed_at = now
    # A failed call like any other for the statistics, with its cause.
    session.add(
        LegAttempt(
            leg_id=leg.id,
            conference_id=leg.conference_id,
            site_id=leg.site_id,
            dial_id=None,
            purpose=purpose,
            requested_at=now,
            ended_at=now,
            cause=UNDIALABLE_CAUSE,
            end_reason=dials.UNDIALABLE,
        )
    )


async def _redial_limit(session: AsyncSession, sip_uri: str, *, now: datetime) -> datetime | None:
    """When the next redial of `sip_uri` may go, if its share for the minute is spent."""
    limit = get_settings().sip_redials_per_target_per_minute
    since = now - REDIAL_LIMIT_WINDOW
    count, oldest = (
        await session.execute(
            select(func.count(Dial.id), func.min(Dial.requested_at)).where(
                Dial.sip_uri == sip_uri, Dial.requested_at > since
            )
        )
    ).one()
    if count < limit or oldest is None:
        return None
    return max(now, oldest + REDIAL_LIMIT_WINDOW)
