"""The kernel's JSON routes: tokens, users, health."""

import math
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, EmailStr, Field
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from bridgedesk import heartbeat, users
from bridgedesk.auth import FEED_KIND, CurrentActor, authenticate, issue_token
from bridgedesk.db import MAX_KEY, READ_ONLY, Db, database
from bridgedesk.identity import Role
from bridgedesk.models import User
from bridgedesk.schemas import FromRow
from bridgedesk.settings import get_settings

router = APIRouter()


class TokenIn(BaseModel):
    email: Annotated[str, Field(min_length=3, max_length=254)]
    password: Annotated[str, Field(min_length=1, max_length=200)]


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    email: EmailStr
    name: Annotated[str, Field(min_length=1, max_length=200)]
    password: Annotated[str, Field(min_length=8, max_length=200)]
    role: Role
    # An INTEGER key: larger values would overflow the database driver.
    customer_id: Annotated[int, Field(ge=1, le=MAX_KEY)] | None = None


class UserOut(FromRow):
    id: int
    email: str
    name: str
    role: Role
    customer_id: int | None


@router.post("/api/v1/auth/token", tags=["auth"])
async def create_token(body: TokenIn, db: Db) -> TokenOut:
    user = await authenticate(db, body.email, body.password)
    secret, _ = await issue_token(db, user, kind="api")
    return TokenOut(access_token=secret)


class FeedKeyOut(BaseModel):
    key: str
    expires_at: datetime
    usage: str = "append ?key=<key> to a calendar.ics URL; it reads calendars and nothing else"


@router.post("/api/v1/auth/feed-key", status_code=201, tags=["auth"])
async def create_feed_key(db: Db, actor: CurrentActor) -> FeedKeyOut:
    """A long-lived key for subscribing to calendar feeds from a calendar application."""
    user = await db.get(User, actor.user_id)
    assert user is not None
    secret, token = await issue_token(db, user, kind=FEED_KIND)
    return FeedKeyOut(key=secret, expires_at=token.expires_at)


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
