"""The kernel's own tables: users, their tokens and page sessions, and the notification outbox."""

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from bridgedesk.db import Base, UTCDateTime
from bridgedesk.identity import CUSTOMER_ROLES, Role

_CUSTOMER_ROLE_LIST = ", ".join(f"'{r.value}'" for r in sorted(CUSTOMER_ROLES))


class User(Base):
    __tablename__ = "bridgedesk_users"
    __table_args__ = (
        CheckConstraint(
            f"(role IN ({_CUSTOMER_ROLE_LIST})) = (customer_id IS NOT NULL)",
            name="customer_roles_belong_to_a_customer",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(String(20))
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("reservations_customers.id"), index=True
    )
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuthToken(Base):
    """A bearer token or a page session; only the SHA-256 of the secret is stored."""

    __tablename__ = "bridgedesk_auth_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("bridgedesk_users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))  # "api" or "page"
    csrf_token: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OutboxMessage(Base):
    """A notification written in the same transaction as the change it reports."""

    __tablename__ = "bridgedesk_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))  # "email" or "webhook"
    topic: Mapped[str] = mapped_column(String(60), index=True)
    # Jobs that notify pass a key so that running them twice queues nothing new.
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    recipients: Mapped[list[str]] = mapped_column(JSON)
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    # [{"filename", "content_type", "content_b64"}]
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class ScheduledJobState(Base):
    """APScheduler's job store, owned by our migrations so that no table appears unmanaged."""

    __tablename__ = "bridgedesk_scheduled_jobs"

    id: Mapped[str] = mapped_column(String(191), primary_key=True)
    next_run_time: Mapped[float | None] = mapped_column(Float(25), index=True)
    job_state: Mapped[bytes] = mapped_column(LargeBinary)


class WorkerHeartbeat(Base):
    """One row per worker process, rewritten every few seconds while its scheduler runs:
    `/healthz` and the operators' pages read the newest to tell whether the worker is alive."""

    __tablename__ = "bridgedesk_worker_heartbeats"

    # "host:pid": a restarted worker writes a new row; rows of dead processes age out.
    worker: Mapped[str] = mapped_column(String(200), primary_key=True)
    role: Mapped[str] = mapped_column(String(20))  # "scheduler" or "standby"
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_beat: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
