"""Customers, their sites, the provider's bridges, and conferences holding sites over time.

The no-double-booking rule lives in the database: on PostgreSQL an exclusion constraint
over `reservations_site_holds` (site, [starts_at, ends_at)) where `held` (see the migration
that creates it); on SQLite every transaction takes the write lock before it checks.
"""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bridgedesk.db import Base, UTCDateTime


class SiteKind(StrEnum):
    ROOM = "room"  # the customer's own conference room
    EXTERNAL = "external"  # a scheduled outside site


class ConferenceStatus(StrEnum):
    REQUESTED = "requested"
    CONFIRMED = "confirmed"
    LIVE = "live"
    ENDED = "ended"
    CANCELLED = "cancelled"


class Customer(Base):
    __tablename__ = "reservations_customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    timezone: Mapped[str] = mapped_column(String(64))
    billing_emails: Mapped[list[str]] = mapped_column(JSON, default=list)
    primary_contact: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Site(Base):
    __tablename__ = "reservations_sites"
    __table_args__ = (
        UniqueConstraint("customer_id", "name"),
        CheckConstraint("max_speed_kbps > 0", name="max_speed_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("reservations_customers.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[SiteKind] = mapped_column(String(20))
    timezone: Mapped[str] = mapped_column(String(64))
    sip_uri: Mapped[str] = mapped_column(String(300))
    audio_uri: Mapped[str | None] = mapped_column(String(300))
    max_speed_kbps: Mapped[int] = mapped_column(Integer)
    billing_zone: Mapped[str] = mapped_column(String(40))
    # Ordered technical contacts: [{name, phone, pager, mobile, email}]
    contacts: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # Written by the certification package through reservations' service; read here for
    # automatic confirmation and booking warnings.
    certification_state: Mapped[str] = mapped_column(String(40), default="registered")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Bridge(Base):
    __tablename__ = "reservations_bridges"
    __table_args__ = (
        CheckConstraint("ports > 0", name="ports_positive"),
        CheckConstraint("adhoc_reserve >= 0 AND adhoc_reserve <= ports", name="reserve_in_ports"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    sip_uri: Mapped[str] = mapped_column(String(300))
    ports: Mapped[int] = mapped_column(Integer)
    adhoc_reserve: Mapped[int] = mapped_column(Integer, default=0)


class Series(Base):
    """A recurring booking: the rule it was expanded from; each occurrence is a Conference."""

    __tablename__ = "reservations_series"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("reservations_customers.id"), index=True)
    rrule: Mapped[str] = mapped_column(String(300))
    timezone: Mapped[str] = mapped_column(String(64))
    first_start: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_minutes: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    conferences: Mapped[list["Conference"]] = relationship(
        back_populates="series", order_by="Conference.starts_at", lazy="raise"
    )


class Conference(Base):
    __tablename__ = "reservations_conferences"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint(
            "status IN ('requested', 'confirmed', 'live', 'ended', 'cancelled')",
            name="status_known",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # C-YYYY-NNNNNN, assigned from the id once the row exists.
    number: Mapped[str | None] = mapped_column(String(20), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("reservations_customers.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    leader_name: Mapped[str] = mapped_column(String(200))
    requester_id: Mapped[int] = mapped_column(ForeignKey("bridgedesk_users.id"))
    requester_name: Mapped[str] = mapped_column(String(200))
    project_code: Mapped[str | None] = mapped_column(String(60))
    features: Mapped[list[str]] = mapped_column(JSON, default=list)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[ConferenceStatus] = mapped_column(String(20), index=True)
    recorded: Mapped[bool] = mapped_column(Boolean, default=False)
    booked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    confirmation_due: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmed_by: Mapped[str | None] = mapped_column(String(200))
    overdue_flagged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Started on request ("now") rather than booked ahead; never refused.
    adhoc: Mapped[bool] = mapped_column(Boolean, default=False)
    # An ad hoc conference accepted beyond every bridge's ports: operators were alerted.
    overflow: Mapped[bool] = mapped_column(Boolean, default=False)
    # When the sites of an ad hoc conference are promised to be connected.
    ready_by: Mapped[datetime | None] = mapped_column(UTCDateTime)
    bridge_id: Mapped[int | None] = mapped_column(ForeignKey("reservations_bridges.id"))
    series_id: Mapped[int | None] = mapped_column(ForeignKey("reservations_series.id"), index=True)
    # Position in the series as first expanded (0 = the first meeting); kept when moved.
    occurrence_index: Mapped[int | None] = mapped_column(Integer)
    # The series' original start of this occurrence (RECURRENCE-ID in calendars).
    occurrence_start: Mapped[datetime | None] = mapped_column(UTCDateTime)

    series: Mapped[Series | None] = relationship(back_populates="conferences", lazy="raise")
    sites: Mapped[list["SiteHold"]] = relationship(
        back_populates="conference",
        order_by="SiteHold.id",
        cascade="all, delete-orphan",
        lazy="selectin",
    )


class SiteHold(Base):
    """One site taking part in one conference, holding it over the conference's time."""

    __tablename__ = "reservations_site_holds"
    __table_args__ = (
        UniqueConstraint("conference_id", "site_id"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("speed_kbps > 0", name="speed_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conference_id: Mapped[int] = mapped_column(
        ForeignKey("reservations_conferences.id", ondelete="CASCADE")
    )
    site_id: Mapped[int] = mapped_column(ForeignKey("reservations_sites.id"), index=True)
    speed_kbps: Mapped[int] = mapped_column(Integer)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # False once the conference is cancelled: the site is free again for that time.
    held: Mapped[bool] = mapped_column(Boolean, default=True)
    # Set when the site joined a conference already under way (the 5-minute add-site target).
    added_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    conference: Mapped[Conference] = relationship(back_populates="sites")
