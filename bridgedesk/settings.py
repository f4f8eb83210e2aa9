"""Configuration read from BRIDGEDESK_* environment variables."""

import ipaddress
from functools import lru_cache

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BRIDGEDESK_", extra="ignore")

    database_url: str = "sqlite:///./bridgedesk.db"
    # While the database does not answer, the web service tries again this often (and asks
    # clients to come back after as long, in `Retry-After`).
    database_retry_seconds: float = Field(default=2.0, gt=0, le=60)
    # SQL pool per process; web workers each hold their own.
    database_pool_size: int = 10
    # Bearer tokens and page sessions expire after this many hours.
    token_hours: int = 12
    # Page session cookies are marked Secure when the service sits behind HTTPS. Unset,
    # `bridgedesk serve` turns it on unless it listens on a loopback address, and any request
    # that arrived over https gets Secure cookies anyway.
    secure_cookies: bool | None = None

    # Request bodies larger than this are refused (413) before they are read; the bulk routes
    # (CDR import, site CSV import) take up to the larger figure.
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    max_bulk_body_bytes: int = Field(default=16_777_216, ge=1024)
    # Failed sign-ins allowed per account and per client address within the window; past
    # them sign-in answers 429 until the window moves on.
    sign_in_window_seconds: float = Field(default=900, gt=0)
    sign_in_max_failures_per_account: int = Field(default=10, ge=1)
    sign_in_max_failures_per_address: int = Field(default=50, ge=1)
    # Password hashes (Argon2, 64 MiB each) computed at once per process; others queue.
    password_hash_concurrency: int = Field(default=4, ge=1, le=64)

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

    # The worker writes its heartbeat this often; `/healthz` and the operators' pages call it
    # down once its newest heartbeat is older than the stale limit.
    worker_heartbeat_seconds: float = Field(default=5, gt=0)
    worker_heartbeat_stale_seconds: float = Field(default=30, gt=0)

    # How often the worker looks for bookings past their confirmation deadline.
    overdue_scan_seconds: int = 60
    outbox_poll_seconds: int = 5

    # -- monitoring settings --
    # Monthly uptime is reported in this zone (calendar months begin at its midnight).
    reporting_timezone: str = "UTC"
    # A maintenance window is excluded from uptime only if customers heard this long before.
    maintenance_notice_hours: int = Field(default=48, ge=0)
    # The reservation site's health URL the uptime prober asks every minute.
    health_url: str = "http://127.0.0.1:8000/healthz"
    health_timeout_seconds: float = 5.0
    # Where a missed help-desk clock is reported: "{tier}" is the next tier's name.
    support_tier_email: str = "support-tier-{tier}@localhost"
    # On-call paging (SPEC §6): urgent events are POSTed here through the outbox's webhook
    # channel, signed (X-Bridgedesk-Signature, HMAC-SHA256 of the body) with the secret.
    # No URL: nobody is paged.
    oncall_webhook_url: str | None = None
    webhook_secret: str | None = None
    # The provider's help desk as customers see it on the status page, tickets and emails.
    helpdesk_phone: str = "+1 800 555 0100"
    helpdesk_after_hours_phone: str = "+1 800 555 0199"
    helpdesk_email: str = "helpdesk@localhost"
    helpdesk_address: str = "Help desk, 1 Bridge Street, Springfield"

    # Bridge calls (SPEC §5). A dropped leg not back within the recovery window gets its
    # site's audio link and starts the contact chain; 5 minutes is the published figure.
    recovery_window_seconds: float = Field(default=300, gt=0)
    # Redials after a drop: the first at once, then waits doubling from the initial up to the cap.
    redial_backoff_initial_seconds: float = Field(default=10, gt=0)
    redial_backoff_cap_seconds: float = Field(default=60, gt=0)
    # Time between steps of the contact chain while the site is still down (0: all at once).
    contact_chain_step_seconds: float = Field(default=120, ge=0)
    # Dial a conference's sites this long before its start (0: at the start, as published).
    launch_lead_seconds: float = Field(default=0, ge=0)
    # A launch is on time when every leg is connected within this long of the start.
    on_time_threshold_seconds: float = Field(default=120, gt=0)
    launch_interval_seconds: int = Field(default=15, ge=1)
    # Legs are followed this often: a dropped site is redialed within about this long.
    supervise_interval_seconds: int = Field(default=1, ge=1)

    # SIP engine (bridge/engine): `bridgedesk worker` supervises this many pjsua2 processes.
    sip_workers: int = Field(default=2, ge=0, le=64)
    # Calls one SIP process holds at once. The engine also reads the limit of the pjsua2 it
    # loaded (PJSUA_MAX_CALLS: 512 in the server build, 4 in the PyPI wheel) and never claims
    # more than the smaller of the two, so pjsua2 never refuses a call for want of a slot.
    sip_calls_per_process: int = Field(default=300, ge=1, le=4096)
    # Slots each process keeps for drop recovery and audio links: launches, tests and probes
    # never fill them, so a burst of launches to unreachable sites cannot delay a redial.
    # (At most a quarter of the process's slots.)
    sip_recovery_reserve: int = Field(default=16, ge=0)
    # Dial pacing per process (token bucket). The server build's 4,096-handle socket table
    # takes bursts; the wheel's 64 handles do not (~32 calls at once abort the process), so
    # under the wheel the engine holds itself to 10 a second, 4 at once, whatever is set.
    sip_dials_per_second: float = Field(default=50.0, gt=0, le=500)
    sip_dial_burst: int = Field(default=20, ge=1, le=200)
    # Redials of one SIP URI (any leg) per minute; past it the next waits (a site that
    # answers and hangs up at once is not called in a tight loop).
    sip_redials_per_target_per_minute: int = Field(default=10, ge=1)
    # A connected leg whose packet loss passes this (in %, over at least 100 packets) counts
    # as a network problem: it feeds recertification like a network drop.
    media_loss_threshold_pct: float = Field(default=5.0, gt=0, le=100)
    # OPTIONS pings need no pjsua2 call slot; this many run at once per process.
    sip_options_in_flight: int = Field(default=8, ge=1, le=32)
    # A dial or INVITE probe not answered within this long is cancelled (cause network).
    sip_answer_timeout_seconds: float = Field(default=30.0, gt=0, le=300)
    # A connected dial with no RTP received for this long is hung up (0 disables).
    no_media_seconds: float = Field(default=30.0, ge=0)
    # A worker process's claim on its rows; renewed while it works. When it runs out (the
    # process died) probes are re-queued and dials end with "engine_lost".
    sip_lease_seconds: float = Field(default=15.0, ge=1)
    # A probe whose process died this many times is finished as failed (never lost).
    sip_probe_max_attempts: int = Field(default=3, ge=1)
    # How often an idle process looks for queued work.
    sip_poll_seconds: float = Field(default=0.2, gt=0, le=10)
    # Where the engine's SIP transports listen: one UDP port per process from this range.
    sip_bind_host: str = "127.0.0.1"
    sip_port_min: int = Field(default=5070, ge=1024, le=65535)
    sip_port_max: int = Field(default=5199, ge=1024, le=65535)
    # A crashing process is restarted at most this many times a minute (per slot).
    sip_restarts_per_minute: int = Field(default=10, ge=1)
    # What may be dialed (SPEC §5, bridgedesk/sip_uri.py). `tel:` numbers are dialed through
    # this gateway, e.g. "sip:{number}@gw.provider.example"; unset, a `tel:` URI is refused.
    pstn_gateway: str | None = None
    # Comma-separated CIDRs the bridges never call (besides the bridges' own SIP endpoints):
    # link-local by default (cloud metadata services live there).
    sip_deny_networks: str = "169.254.0.0/16,fe80::/10"

    @field_validator("pstn_gateway")
    @classmethod
    def _gateway_makes_sip_uris(cls, value: str | None) -> str | None:
        if not value:
            return None
        if "{number}" not in value or not value.startswith(("sip:", "sips:")):
            raise ValueError("must be a SIP URI template with {number}, e.g. sip:{number}@gw")
        return value

    @field_validator("sip_deny_networks")
    @classmethod
    def _networks_parse(cls, value: str) -> str:
        for part in value.split(","):
            if part.strip():
                ipaddress.ip_network(part.strip(), strict=False)  # ValueError names the part
        return value

    # -- certification settings --
    # A certification test call holds the line this long to see media, and waits this long
    # for the site to answer.
    certification_media_seconds: float = Field(default=3.0, gt=0, le=30)
    certification_answer_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    # Technicians hear here about certification deadlines about to pass.
    technicians_email: str = "technicians@localhost"
    # How often the worker copies test results and reads the bridge's network faults.
    certification_scan_seconds: int = Field(default=10, ge=1)


@lru_cache
def get_settings() -> Settings:
    return Settings()
