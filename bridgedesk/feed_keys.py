"""Calendar feed keys: listed, rotated and revoked by their owner.

A feed key reads calendars and nothing else (`auth.calendar_reader`). A user holds one live
key unless they ask for another: issuing a key revokes the user's others, so a rotation is
one call and a leaked key dies with it.
"""

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bridgedesk.auth import FEED_KIND, issue_token
from bridgedesk.clock import utcnow
from bridgedesk.identity import Actor
from bridgedesk.models import AuthToken, User


async def list_feed_keys(session: AsyncSession, *, by: Actor) -> Sequence[AuthToken]:
    """The caller's live feed keys, newest first (their secrets are not kept, only ids)."""
    query = (
        select(AuthToken)
        .where(
            AuthToken.user_id == by.user_id,
            AuthToken.kind == FEED_KIND,
            AuthToken.expires_at > utcnow(),
        )
        .order_by(AuthToken.created_at.desc(), AuthToken.id.desc())
    )
    return (await session.scalars(query)).all()


async def issue_feed_key(
    session: AsyncSession, *, by: Actor, keep_others: bool = False
) -> tuple[str, AuthToken, int]:
    """A new key for the caller: (secret, its row, how many older keys were revoked)."""
    revoked = 0
    if not keep_others:
        result = await session.execute(
            delete(AuthToken).where(AuthToken.user_id == by.user_id, AuthToken.kind == FEED_KIND)
        )
        revoked = int(getattr(result, "rowcount", 0) or 0)
    user = await session.get(User, by.user_id)
    assert user is not None  # the caller was just authenticated
    secret, token = await issue_token(session, user, kind=FEED_KIND)
    return secret, token, revoked


async def revoke_feed_key(session: AsyncSession, key_id: int, *, by: Actor) -> None:
    """Afterwards the caller holds no key with that id. Idempotent: revoking a key that is
    already gone (or was never the caller's) changes nothing and tells nothing."""
    await session.execute(
        delete(AuthToken).where(
            AuthToken.id == key_id,
            AuthToken.user_id == by.user_id,
            AuthToken.kind == FEED_KIND,
        )
    )
