"""The certification package's tables, each name prefixed by the package."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bridgedesk.db import Base, UTCDateTime


class CertificationState(StrEnum):
    REGISTERED = "registered"
    TESTING = "testing"
    CERTIFIED = "certified"
    FAILED = "failed"
    RECERTIFICATION_REQUIRED = "recertification_required"
    UPGRADE_PENDING = "upgrade_pending"


class DeadlineKind(StrEnum):
    """Which commitment of the service description the record's deadlines come from."""

    FIRST = "first"  # a new site: 24 h (external) or 24 h / 48 h (room), rollout-stretched
    UPGRADE = "upgrade"  # an upgrade to an existing room: the same local day
    RECERTIFICATION = "recertification"  # network problems during a conference: 24 h


class TestOutcome(StrEnum):
    PENDING = "pending"
    PASSED = "passed"
    FAILED = "failed"


class CertificationRecord(Base):
    """One per site: where it stands in the workflow and the deadlines it is held to."""

    __tablename__ = "certification_records"

    site_id: Mapped[int] = mapped_column(ForeignKey("reservations_sites.id"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("reservations_customers.id"), index=True)
    state: Mapped[str] = mapped_column(String(40), index=True)
    # When the site's required information (SIP URI, zone, a technical contact) was complete.
    info_received_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    deadline_kind: Mapped[str | None] = mapped_column(String(20))
    # Position among the customer's sites awaiting first certification when its information
    # arrived (the rollout rule's k), kept so its deadline never moves afterwards.
    rollout_position: Mapped[int | None] = mapped_column(Integer)
    register_by: Mapped[datetime | None] = mapped_column(UTCDateTime)
    certify_by: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # A room counts as registered once a technician first tested it against the bridge.
    registered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The start of the current deadline (info received, upgrade asked, fault seen).
    deadline_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    upgrade_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    upgrade_note: Mapped[str | None] = mapped_column(Text)
    recertification_cause_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    signed_off_by: Mapped[str | None] = mapped_column(String(200))
    certified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_certified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CertificationTest(Base):
    """A test call through the bridge's SIP engine, and the measures copied from its probe."""

    __tablename__ = "certification_tests"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("reservations_sites.id"), index=True)
    probe_id: Mapped[int] = mapped_column(Integer, index=True)
    requested_by: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sip_uri: Mapped[str] = mapped_column(String(300))
    outcome: Mapped[str] = mapped_column(String(10), index=True)
    final_status: Mapped[int | None] = mapped_column(Integer)
    setup_ms: Mapped[float | None] = mapped_column(Float)
    codec: Mapped[str | None] = mapped_column(String(60))
    media_seconds: Mapped[float | None] = mapped_column(Float)
    cause: Mapped[str | None] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(Text)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CertificationHistory(Base):
    """The audit trail: every change to a site or its certification (who, when, what)."""

    __tablename__ = "certification_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("reservations_sites.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(200))
    field: Mapped[str] = mapped_column(String(60))
    before: Mapped[str | None] = mapped_column(Text)
    after: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)


class CertificationSignOff(Base):
    """A certification granted, against the deadline it was held to (the monthly figure)."""

    __tablename__ = "certification_sign_offs"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("reservations_sites.id"), index=True)
    test_id: Mapped[int] = mapped_column(ForeignKey("certification_tests.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    by: Mapped[str] = mapped_column(String(200))
    deadline_kind: Mapped[str | None] = mapped_column(String(20))
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)
    on_time: Mapped[bool] = mapped_column(Boolean)


class CertificationFault(Base):
    """A network fault the bridge reported, acted on once (the recertification job's memory)."""

    __tablename__ = "certification_faults"

    leg_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("reservations_sites.id"), index=True)
    conference_id: Mapped[int] = mapped_column(Integer)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CertificationWatermark(Base):
    """How far a job has read another package's history (e.g. network faults)."""

    __tablename__ = "certification_watermarks"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[datetime] = mapped_column(UTCDateTime)
