"""Configuration read from BRIDGEDESK_* environment variables."""

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BRIDGEDESK_", extra="ignore")

    database_url: str = "sqlite:///./bridgedesk.db"
    # SQL pool per process; web workers each hold their own.
    database_pool_size: int = 10
    # Bearer tokens and page sessions expire after this many hours.
    token_hours: int = 12
    # Page session cookies are marked Secure when the service sits behind HTTPS.
    secure_cookies: bool = False

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    mail_from: str = "bridgedesk@localhost"
    # Provider operators' mailbox: overdue confirmations and overflow alerts go here.
    operators_email: str = "operators@localhost"
    # Outbox: a message that keeps failing is retried with backoff this many times.
    outbox_max_attempts: int = 12
    # A sender's claim on the messages it delivers lasts this long; if the sender dies, they
    # are sent again once it runs out. It must outlast an SMTP conversation (30 s a step).
    outbox_lease_seconds: int = Field(default=300, ge=60)

    # Bookings lock their sites (in id order) so that two bookings of one site queue rather
    # than meet in the exclusion constraint, where PostgreSQL may abort one as a deadlock.
    # The constraint alone already forbids double booking; turning this off only shows that
    # (tests/server's no-constraint mode turns both off to prove its tests catch a race).
    booking_site_lock: bool = True

    # How often the worker looks for bookings past their confirmation deadline.
    overdue_scan_seconds: int = 60
    outbox_poll_seconds: int = 5


@lru_cache
def get_settings() -> Settings:
    return Settings()
