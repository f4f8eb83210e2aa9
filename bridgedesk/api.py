"""The kernel's JSON routes: tokens (sign-in, sign-out, feed keys), users, health."""

import math
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, EmailStr, Field
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from bridgedesk import feed_keys, heartbeat, users
from bridgedesk.auth import CurrentActor, authenticate, bearer_secret, issue_token, revoke
from bridgedesk.db import READ_ONLY, Db, database
from bridgedesk.identity import Role
from bridgedesk.models import User
from bridgedesk.schemas import FromRow, Id, Strict
from bridgedesk.settings import get_settings

router = APIRouter()


class TokenIn(Strict):
    # A password is compared as typed: never trimmed.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    email: Annotated[str, Field(min_length=3, max_length=254)]
    password: Annotated[str, Field(min_length=1, max_length=200)]


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"


class UserIn(Strict):
    email: EmailStr
    name: Annotated[str, Field(min_length=1, max_length=200)]
    password: Annotated[str, Field(min_length=8, max_length=200)]
    role: Role
    # An INTEGER key: larger values would overflow the database driver.
    customer_id: Id | None = None


class UserOut(FromRow):
    id: int
    email: str
    name: str
    role: Role
    customer_id: int | None
    active: bool


@router.post("/api/v1/auth/token", tags=["auth"])
async def create_token(body: TokenIn, request: Request, db: Db) -> TokenOut:
    """Sign in; throttled per account and per client address (429 with Retry-After)."""
    address = request.client.host if request.client else None
    user = await authenticate(db, body.email, body.password, address=address)
    secret, _ = await issue_token(db, user, kind="api")
    return TokenOut(access_token=secret)


@router.post("/api/v1/auth/logout", status_code=204, tags=["auth"])
async def sign_out(request: Request, db: Db, actor: CurrentActor) -> Response:
    """Revoke the bearer token this request is made with (a page session signs out at
    `POST /logout`)."""
    secret = bearer_secret(request)
    if secret:
        await revoke(db, secret)
    return Response(status_code=204)


class FeedKeyIn(Strict):
    # Issuing a key revokes the caller's other feed keys unless this asks to keep them.
    keep_others: bool = False


class FeedKeyOut(BaseModel):
    id: int
    key: str
    expires_at: datetime
    revoked: int = Field(description="older feed keys of the caller revoked by this one")
    usage: str = "append ?key=<key> to a calendar.ics URL; it reads calendars and nothing else"


class FeedKeyInfo(FromRow):
    id: int
    created_at: datetime
    expires_at: datetime


class FeedKeysOut(BaseModel):
    items: list[FeedKeyInfo]


@router.post("/api/v1/auth/feed-keys", status_code=201, tags=["auth"])
async def issue_feed_key(db: Db, actor: CurrentActor, body: FeedKeyIn | None = None) -> FeedKeyOut:
    """A long-lived key for calendar applications; it replaces the caller's older keys
    unless `keep_others` is true. The key is shown once."""
    keep = body.keep_others if body else False
    secret, token, revoked = await feed_keys.issue_feed_key(db, by=actor, keep_others=keep)
    return FeedKeyOut(id=token.id, key=secret, expires_at=token.expires_at, revoked=revoked)


@router.post("/api/v1/auth/feed-key", status_code=201, tags=["auth"])
async def create_feed_key(db: Db, actor: CurrentActor) -> FeedKeyOut:
    """The first form of `POST /api/v1/auth/feed-keys`: a new key replacing the older ones."""
    secret, token, revoked = await feed_keys.issue_feed_key(db, by=actor)
    return FeedKeyOut(id=token.id, key=secret, expires_at=token.expires_at, revoked=revoked)


@router.get("/api/v1/auth/feed-keys", tags=["auth"])
async def list_feed_keys(db: Db, actor: CurrentActor) -> FeedKeysOut:
    """The caller's live feed keys (ids and dates; a key's secret is never shown again)."""
    keys = await feed_keys.list_feed_keys(db, by=actor)
    return FeedKeysOut(items=[FeedKeyInfo.from_model(k) for k in keys])


@router.delete("/api/v1/auth/feed-keys/{key_id}", status_code=204, tags=["auth"])
async def revoke_feed_key(key_id: Id, db: Db, actor: CurrentActor) -> Response:
    await feed_keys.revoke_feed_key(db, key_id, by=actor)
    return Response(status_code=204)


@router.get("/api/v1/users/me", tags=["users"])
async def who_am_i(db: Db, actor: CurrentActor) -> UserOut:
    user = await db.get(User, actor.user_id)
    assert user is not None
    return UserOut.from_model(user)


@router.post("/api/v1/users", status_code=201, tags=["users"])
async def create_user(body: UserIn, db: Db, actor: CurrentActor) -> UserOut:
    new = users.NewUser(str(body.email), body.name, body.password, body.role, body.customer_id)
    return UserOut.from_model(await users.create_user(db, new, by=actor))


@router.get("/api/v1/users", tags=["users"])
async def list_users(db: Db, actor: CurrentActor) -> list[UserOut]:
    return [UserOut.from_model(u) for u in await users.list_users(db, by=actor)]


@router.post("/api/v1/users/{user_id}/deactivate", tags=["users"])
async def deactivate_user(user_id: Id, db: Db, actor: CurrentActor) -> UserOut:
    """Admins only: every token, feed key and page session of the user ends now, and
    sign-in refuses them until they are activated again."""
    return UserOut.from_model(await users.set_active(db, user_id, active=False, by=actor))


@router.post("/api/v1/users/{user_id}/activate", tags=["users"])
async def activate_user(user_id: Id, db: Db, actor: CurrentActor) -> UserOut:
    return UserOut.from_model(await users.set_active(db, user_id, active=True, by=actor))


class WorkerHealth(BaseModel):
    last_heartbeat: datetime | None
    ok: bool


class Health(BaseModel):
    status: str
    database: str
    # The worker's state is reported, not folded into the status: the web side may be fine.
    worker: WorkerHealth | None = None


@router.get("/healthz", tags=["health"], response_model=Health)
async def healthz() -> Health | JSONResponse:
    """200 when the database answers, 503 when it does not; the worker's heartbeat beside."""
    try:
        async with database.engine.connect() as connection:
            await connection.execution_options(**{READ_ONLY: True})
            await connection.execute(text("SELECT 1"))
            async with AsyncSession(bind=connection) as session:
                worker = await heartbeat.worker_state(session)
    except Exception as error:  # any failure to reach the database is "down"
        # The one error shape (`detail`), with the health fields beside it.
        return JSONResponse(
            {
                "detail": "The database does not answer.",
                "status": "unavailable",
                "database": type(error).__name__,
            },
            status_code=503,
            headers={"Retry-After": str(math.ceil(get_settings().database_retry_seconds))},
        )
    return Health(
        status="ok",
        database="ok",
        worker=WorkerHealth(last_heartbeat=worker.last_heartbeat, ok=worker.ok),
    )
