"""Passwords, bearer tokens and page sessions, and the dependencies that turn them into an Actor."""

import asyncio
import hashlib
import secrets
from datetime import timedelta
from typing import Annotated
from weakref import WeakKeyDictionary

from anyio import CapacityLimiter, to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Depends, Request
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bridgedesk import heartbeat
from bridgedesk.clock import utcnow
from bridgedesk.db import Db
from bridgedesk.errors import DomainError, Forbidden, NotAuthenticated
from bridgedesk.identity import Actor, Role
from bridgedesk.models import AuthToken, User
from bridgedesk.settings import get_settings
from bridgedesk.throttle import sign_in_throttle

SESSION_COOKIE = "bridgedesk_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Provider staff who run the service: their pages carry a banner while the worker is down.
WORKER_WATCHERS = frozenset({Role.ADMIN, Role.OPERATOR})

_hasher = PasswordHasher()

# Calendar applications poll a feed URL for months; its key reads calendars and nothing else.
FEED_KIND = "feed"
FEED_KEY_PARAM = "key"
TOKEN_LIFETIMES = {FEED_KIND: timedelta(days=365)}


class BadCredentials(DomainError):
    status_code = 401
    message = "Unknown email or wrong password."


class CsrfRejected(DomainError):
    status_code = 403
    message = "The form has expired or did not come from this site; reload the page."


# Each Argon2 hash takes 64 MiB and a core for a while: a burst of sign-ins queues for a few
# slots instead of taking every thread and the memory with it. One limiter per event loop.
_hash_slots: "WeakKeyDictionary[asyncio.AbstractEventLoop, CapacityLimiter]" = WeakKeyDictionary()


def _hash_limiter() -> CapacityLimiter:
    loop = asyncio.get_running_loop()
    if loop not in _hash_slots:
        _hash_slots[loop] = CapacityLimiter(get_settings().password_hash_concurrency)
    return _hash_slots[loop]


def hash_password(password: str) -> str:
    return _hasher.hash(password)


async def hash_password_bounded(password: str) -> str:
    """`hash_password` off the event loop, within the process's bound on concurrent hashes."""
    return await to_thread.run_sync(hash_password, password, limiter=_hash_limiter())


async def password_matches(password_hash: str, password: str) -> bool:
    def verify() -> bool:
        try:
            return _hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    return await to_thread.run_sync(verify, limiter=_hash_limiter())


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def actor_of(user: User) -> Actor:
    return Actor(
        user_id=user.id,
        role=Role(user.role),
        name=user.name,
        email=user.email,
        customer_id=user.customer_id,
    )


async def authenticate(
    session: AsyncSession, email: str, password: str, *, address: str | None
) -> User:
    """The user these credentials name; throttled per account and per client `address`
    (TooManySignIns while either is at its limit of failures, even for the right password)."""
    sign_in_throttle.check(email, address)
    if "\x00" in email:  # no stored email holds NUL, and PostgreSQL refuses it as a parameter
        sign_in_throttle.failed(email, address)
        raise BadCredentials()
    user = await session.scalar(select(User).where(User.email == email.strip().lower()))
    # Verify against a dummy hash for unknown users too, so timing does not reveal who exists.
    stored = user.password_hash if user and user.active else _DUMMY_HASH
    if not await password_matches(stored, password) or user is None or not user.active:
        sign_in_throttle.failed(email, address)
        raise BadCredentials()
    return user


async def issue_token(session: AsyncSession, user: User, *, kind: str) -> tuple[str, AuthToken]:
    """A new secret for `user`; the caller hands it out once, only its digest is kept."""
    secret = secrets.token_urlsafe(32)
    now = utcnow()
    token = AuthToken(
        token_hash=_digest(secret),
        user_id=user.id,
        kind=kind,
        csrf_token=secrets.token_urlsafe(24) if kind == "page" else None,
        created_at=now,
        expires_at=now + TOKEN_LIFETIMES.get(kind, timedelta(hours=get_settings().token_hours)),
    )
    session.add(token)
    await session.flush()
    return secret, token


async def delete_expired_tokens(session: AsyncSession) -> int:
    """Expired tokens and sessions open nothing; dropping them keeps the lookup table small."""
    result = await session.execute(delete(AuthToken).where(AuthToken.expires_at <= utcnow()))
    return int(getattr(result, "rowcount", 0) or 0)


async def revoke(session: AsyncSession, secret: str) -> None:
    """The token or session with this secret opens nothing from now on."""
    await session.execute(delete(AuthToken).where(AuthToken.token_hash == _digest(secret)))


async def revoke_all(session: AsyncSession, user_id: int) -> int:
    """Every token, feed key and page session of the user (a deactivated user keeps none)."""
    result = await session.execute(delete(AuthToken).where(AuthToken.user_id == user_id))
    return int(getattr(result, "rowcount", 0) or 0)


def bearer_secret(request: Request) -> str | None:
    """The secret of an `Authorization: Bearer ...` header, if the request carries one."""
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    return secret.strip() or None if scheme.lower() == "bearer" else None


async def _token_owner(
    session: AsyncSession, secret: str, kind: str
) -> tuple[User, AuthToken] | None:
    row = (
        await session.execute(
            select(User, AuthToken)
            .join(AuthToken, AuthToken.user_id == User.id)
            .where(
                AuthToken.token_hash == _digest(secret),
                AuthToken.kind == kind,
                AuthToken.expires_at > utcnow(),
                User.active.is_(True),
            )
        )
    ).first()
    return (row[0], row[1]) if row else None


async def page_session(request: Request, session: AsyncSession) -> tuple[User, AuthToken] | None:
    """The signed-in page user, if the request carries a live session cookie."""
    secret = request.cookies.get(SESSION_COOKIE)
    return await _token_owner(session, secret, "page") if secret else None


async def current_actor(request: Request, db: Db) -> Actor:
    """Bearer token for API clients; the session cookie (with CSRF on writes) for pages."""
    secret = bearer_secret(request)
    if secret:
        found = await _token_owner(db, secret, "api")
        if found is None:
            raise NotAuthenticated("The token is unknown or has expired.")
        actor = actor_of(found[0])
        request.state.actor = actor
        return actor
    found = await page_session(request, db)
    if found is None:
        raise NotAuthenticated()
    user, token = found
    if request.method not in _SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER) or await _form_csrf(request)
        if not sent or not secrets.compare_digest(sent, token.csrf_token or ""):
            raise CsrfRejected()
    request.state.csrf_token = token.csrf_token
    # Error pages find the actor here and keep the navigation bar.
    actor = actor_of(user)
    if actor.role in WORKER_WATCHERS:  # their pages say so when the worker is not running
        request.state.worker = await heartbeat.worker_state(db)
    request.state.actor = actor
    return actor


async def _form_csrf(request: Request) -> str | None:
    if request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


CurrentActor = Annotated[Actor, Depends(current_actor)]


async def calendar_reader(request: Request, db: Db) -> Actor:
    """Calendar feeds also take `?key=` (a feed token), as calendar applications send no header."""
    key = request.query_params.get(FEED_KEY_PARAM)
    if key:
        found = await _token_owner(db, key, FEED_KIND)
        if found is None:
            raise NotAuthenticated("The calendar key is unknown or has expired.")
        return actor_of(found[0])
    return await current_actor(request, db)


CalendarReader = Annotated[Actor, Depends(calendar_reader)]


def require_role(*roles: Role) -> object:
    """A dependency that admits only the given roles (403 for the others)."""
    allowed = frozenset(roles)

    async def dependency(actor: CurrentActor) -> Actor:
        if actor.role not in allowed:
            raise Forbidden(f"This needs one of the roles: {', '.join(sorted(allowed))}.")
        return actor

    return Depends(dependency)


_DUMMY_HASH = _hasher.hash("not a real password")
