"""The bridge package's tables, each name prefixed by the package."""

from datetime import datetime

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from bridgedesk.db import Base, UTCDateTime

# The SIP engine's work: probes and dials.


class Probe(Base):
    """A queued call-setup probe and the engine's claim on it (the result lives apart)."""

    __tablename__ = "bridge_probes"
    __table_args__ = (Index("ix_bridge_probes_status_id", "status", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sip_uri: Mapped[str] = mapped_column(String(300))
    method: Mapped[str] = mapped_column(String(8))
    hold_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    purpose: Mapped[str] = mapped_column(String(40))
    answer_timeout_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    # queued -> running -> done; a lost claim puts it back to queued (bounded by attempts).
    status: Mapped[str] = mapped_column(String(12), default="queued")
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(120), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class ProbeResult(Base):
    """What one probe measured; written once by the engine and never changed."""

    __tablename__ = "bridge_probe_results"

    id: Mapped[int] = mapped_column(primary_key=True)
    probe_id: Mapped[int] = mapped_column(ForeignKey("bridge_probes.id"), unique=True)
    final_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    provisional_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    answer_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    codec: Mapped[str | None] = mapped_column(String(60), nullable=True)
    media_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    rtp_packets_received: Mapped[int] = mapped_column(Integer, default=0)
    call_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    cause: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str] = mapped_column(String(300))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime)
    engine: Mapped[str | None] = mapped_column(String(120), nullable=True)


class ProbeCauseChange(Base):
    """An operator's re-classification of a probe's cause; the latest one applies."""

    __tablename__ = "bridge_probe_cause_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    probe_id: Mapped[int] = mapped_column(ForeignKey("bridge_probes.id"), index=True)
    cause: Mapped[str] = mapped_column(String(40))
    note: Mapped[str] = mapped_column(String(500), default="")
    changed_by: Mapped[int | None] = mapped_column(ForeignKey("bridgedesk_users.id"), nullable=True)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Dial(Base):
    """One outgoing call the engine places and holds until it ends (legs are built on it)."""

    __tablename__ = "bridge_dials"
    __table_args__ = (
        Index("ix_bridge_dials_status_id", "status", "id"),
        Index("ix_bridge_dials_status_work_class_id", "status", "work_class", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sip_uri: Mapped[str] = mapped_column(String(300))
    purpose: Mapped[str] = mapped_column(String(40))
    leg_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    # The conference the call belongs to: all calls of one conference live in one engine
    # process, mixed in its conference bridge (None: a call mixed with nothing).
    conference_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    # The order work is served in (bridge.engine.classes.WorkClass): recovery first.
    work_class: Mapped[int] = mapped_column(Integer, default=1)
    answer_timeout_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    # queued -> dialing -> connected -> ended (or dialing -> ended).
    status: Mapped[str] = mapped_column(String(12), default="queued")
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(120), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    hangup_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    dialed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    connected_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    final_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    provisional_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    answer_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    codec: Mapped[str | None] = mapped_column(String(60), nullable=True)
    call_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    end_reason: Mapped[str | None] = mapped_column(String(20), nullable=True)
    cause: Mapped[str | None] = mapped_column(String(40), nullable=True)
    detail: Mapped[str | None] = mapped_column(String(300), nullable=True)
    last_media_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    rtp_packets_received: Mapped[int] = mapped_column(Integer, default=0)
    # Media quality from pjsua2's stream statistics, refreshed every few seconds while up.
    tx_packets: Mapped[int | None] = mapped_column(Integer, nullable=True)
    loss_pct: Mapped[float | None] = mapped_column(Float, nullable=True)
    jitter_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    # Peak received audio level (0-255, pjsua2's getRxLevel) over the last report period.
    rx_level: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Every change stamps this, so callers can ask what changed since a moment.
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class EngineProcess(Base):
    """A live SIP engine process: what it can hold and what it holds (written by itself)."""

    __tablename__ = "bridge_engine_processes"

    owner: Mapped[str] = mapped_column(String(120), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Calls it may hold at once: the setting, bounded by what the loaded pjsua2 allows.
    max_calls: Mapped[int] = mapped_column(Integer)
    calls: Mapped[int] = mapped_column(Integer, default=0)
    # "server build" or "wheel" (the 4-call PyPI fallback), and the library version.
    module: Mapped[str] = mapped_column(String(40))
    version: Mapped[str] = mapped_column(String(40))
    tls: Mapped[bool] = mapped_column(Boolean, default=False)


class EngineHome(Base):
    """Which engine process a conference's calls live in (affinity: one mixer per meeting)."""

    __tablename__ = "bridge_engine_homes"

    conference_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    owner: Mapped[str] = mapped_column(String(120), index=True)
    since: Mapped[datetime] = mapped_column(UTCDateTime)


# The call handling: launches, legs, incidents and their timeline, call detail records.


class Launch(Base):
    """A conference the bridge has started dialing; at most one per conference."""

    __tablename__ = "bridge_launches"

    id: Mapped[int] = mapped_column(primary_key=True)
    conference_id: Mapped[int] = mapped_column(
        ForeignKey("reservations_conferences.id"), unique=True
    )
    bridge_id: Mapped[int | None] = mapped_column(ForeignKey("reservations_bridges.id"))
    scheduled_start: Mapped[datetime] = mapped_column(UTCDateTime)
    # The end as booked when the launch began: a site leaving after it is leaving, not a drop.
    scheduled_end: Mapped[datetime] = mapped_column(UTCDateTime)
    launched_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # Every leg dialed at launch connected at least once by then (None until they all have).
    all_connected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # None while undecided; decided once every launch leg connected or the 2 minutes passed.
    on_time: Mapped[bool | None] = mapped_column(Boolean)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Leg(Base):
    """One site's call into one conference (video, or the audio link standing in for it)."""

    __tablename__ = "bridge_legs"
    __table_args__ = (Index("ix_bridge_legs_state", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conference_id: Mapped[int] = mapped_column(
        ForeignKey("reservations_conferences.id"), index=True
    )
    site_id: Mapped[int] = mapped_column(ForeignKey("reservations_sites.id"), index=True)
    bridge_id: Mapped[int | None] = mapped_column(ForeignKey("reservations_bridges.id"))
    # "video" for the site's own leg; "audio" for the fallback link dialed in its place.
    kind: Mapped[str] = mapped_column(String(10))
    # The audio link's video leg.
    parent_leg_id: Mapped[int | None] = mapped_column(ForeignKey("bridge_legs.id"))
    # "launch", "add_site" or "adhoc" for video legs; "audio_fallback" for audio links.
    origin: Mapped[str] = mapped_column(String(20))
    sip_uri: Mapped[str] = mapped_column(String(300))
    audio_uri: Mapped[str | None] = mapped_column(String(300))
    speed_kbps: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(20))
    # The engine's dial now carrying (or trying to carry) this leg; a plain id, the engine
    # owns that table.
    dial_id: Mapped[int | None] = mapped_column(Integer)
    # When the next dial goes out while the leg is down (backoff), None while one is in flight.
    next_dial_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Dials since the leg was last connected (the backoff grows with it).
    redials: Mapped[int] = mapped_column(Integer, default=0)
    incident_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    first_connected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    connected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    state_changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Why a leg that could not be dialed at all is `failed` (a SPEC §5 cause, and the reason).
    cause: Mapped[str | None] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(String(300))
    # Media quality of the current (or last) connection, copied from its dial.
    media_rx_packets: Mapped[int | None] = mapped_column(Integer)
    media_tx_packets: Mapped[int | None] = mapped_column(Integer)
    media_loss_pct: Mapped[float | None] = mapped_column(Float)
    media_jitter_ms: Mapped[float | None] = mapped_column(Float)
    media_rx_level: Mapped[int | None] = mapped_column(Integer)
    # When the current connection's packet loss first passed the threshold (a network fault).
    lossy_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)


class LegAttempt(Base):
    """One dial of one leg and how it went (copied from the engine's dial once it ends)."""

    __tablename__ = "bridge_leg_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    leg_id: Mapped[int] = mapped_column(ForeignKey("bridge_legs.id"), index=True)
    conference_id: Mapped[int] = mapped_column(
        ForeignKey("reservations_conferences.id"), index=True
    )
    site_id: Mapped[int] = mapped_column(ForeignKey("reservations_sites.id"))
    dial_id: Mapped[int | None] = mapped_column(Integer, index=True)
    # "launch" | "redial" | "add_site" | "adhoc" | "audio_fallback"
    purpose: Mapped[str] = mapped_column(String(20))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    connected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    final_status: Mapped[int | None] = mapped_column(Integer)
    cause: Mapped[str | None] = mapped_column(String(40))
    end_reason: Mapped[str | None] = mapped_column(String(20))


class Incident(Base):
    """A video leg that dropped (or never connected) and its recovery."""

    __tablename__ = "bridge_incidents"

    id: Mapped[int] = mapped_column(primary_key=True)
    leg_id: Mapped[int] = mapped_column(ForeignKey("bridge_legs.id"), index=True)
    conference_id: Mapped[int] = mapped_column(
        ForeignKey("reservations_conferences.id"), index=True
    )
    site_id: Mapped[int] = mapped_column(ForeignKey("reservations_sites.id"))
    # "dropped" (was connected) or "failed" (the dial never connected)
    kind: Mapped[str] = mapped_column(String(10))
    cause: Mapped[str] = mapped_column(String(40))
    began_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # began_at + the recovery window: past it the audio link is dialed.
    recovery_deadline: Mapped[datetime] = mapped_column(UTCDateTime)
    restored_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    audio_fallback_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # How many steps of the contact chain have been notified.
    contacts_notified: Mapped[int] = mapped_column(Integer, default=0)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class IncidentEvent(Base):
    """One line of an incident's timeline."""

    __tablename__ = "bridge_incident_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("bridge_incidents.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    # dropped, failed, redial, reconnected, audio_fallback_dialed, audio_connected,
    # contact_notified, no_fallback, restored, closed
    kind: Mapped[str] = mapped_column(String(30))
    detail: Mapped[str] = mapped_column(String(500), default="")
    recipient: Mapped[str | None] = mapped_column(String(254))
    outbox_message_id: Mapped[int | None] = mapped_column(Integer)


class CallRecord(Base):
    """A call detail record: one connection of one site, from the bridge or imported.

    On PostgreSQL an exclusion constraint keeps two records of one site from overlapping (see
    the migration); on SQLite the import checks inside its write transaction.
    """

    __tablename__ = "bridge_call_records"
    __table_args__ = (
        UniqueConstraint("site_id", "connected_at"),
        Index("ix_bridge_call_records_customer_connected", "customer_id", "connected_at"),
        Index("ix_bridge_call_records_connected_at", "connected_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conference_id: Mapped[int] = mapped_column(
        ForeignKey("reservations_conferences.id"), index=True
    )
    conference_number: Mapped[str] = mapped_column(String(20))
    customer_id: Mapped[int] = mapped_column(ForeignKey("reservations_customers.id"))
    site_id: Mapped[int] = mapped_column(ForeignKey("reservations_sites.id"))
    bridge_id: Mapped[int | None] = mapped_column(ForeignKey("reservations_bridges.id"))
    leg_id: Mapped[int | None] = mapped_column(ForeignKey("bridge_legs.id"))
    connected_at: Mapped[datetime] = mapped_column(UTCDateTime)
    disconnected_at: Mapped[datetime] = mapped_column(UTCDateTime)
    speed_kbps: Mapped[int] = mapped_column(Integer)
    disconnect_cause: Mapped[str | None] = mapped_column(String(100))
    # "bridge" (written when a leg's connection ended) or "import" (an external MCU's)
    source: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


# The problem-call procedure (SPEC §6 "Problem calls"): what the desk does once a site could
# not be brought back within the recovery window.


class ProcedureStep(Base):
    """One step of an incident's problem-call procedure, with its contact as it stood when the
    procedure opened (a later edit of the site's contacts does not rewrite what was done)."""

    __tablename__ = "bridge_procedure_steps"
    __table_args__ = (UniqueConstraint("incident_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("bridge_incidents.id"), index=True)
    # 1, 2, ... in the order the seed lists them.
    position: Mapped[int] = mapped_column(Integer)
    # site_contact | scheduler | troubled_room | connected_room | other_site_contact |
    # primary_contact
    kind: Mapped[str] = mapped_column(String(30))
    purpose: Mapped[str] = mapped_column(String(200))
    # The index of this step in the automatic contact chain (emails), when it is one of it.
    chain_index: Mapped[int | None] = mapped_column(Integer)
    site_id: Mapped[int | None] = mapped_column(Integer)
    contact_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(300))
    pager: Mapped[str | None] = mapped_column(String(100))
    mobile: Mapped[str | None] = mapped_column(String(100))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ProcedureAttempt(Base):
    """One try at one step and how it went; the automatic emails are attempts too."""

    __tablename__ = "bridge_procedure_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    step_id: Mapped[int] = mapped_column(ForeignKey("bridge_procedure_steps.id"), index=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("bridge_incidents.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    # reached | voicemail_left | receptionist_paged | pager | mobile | no_answer (by a person);
    # emailed | unreachable (automatic).
    outcome: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(String(500), default="")
    made_by_id: Mapped[int | None] = mapped_column(ForeignKey("bridgedesk_users.id"))
    # The person's name, or "automatic" for what the bridge sent itself.
    made_by: Mapped[str] = mapped_column(String(200))
    outbox_message_id: Mapped[int | None] = mapped_column(Integer)
