"""Users: who may add whom (the tenancy rule for customer roles), roles, passwords, who is
active, and what deactivation takes away (every token, feed key and page session)."""

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bridgedesk.auth import hash_password_bounded, password_matches, revoke_all
from bridgedesk.clock import utcnow
from bridgedesk.db import MAX_KEY, add_unique
from bridgedesk.errors import Conflict, Forbidden, InvalidInput, NotFound
from bridgedesk.identity import CUSTOMER_ROLES, Actor, Role
from bridgedesk.models import User


class EmailTaken(Conflict):
    message = "A user with that email already exists."


class InvalidUser(InvalidInput):
    message = "The user is not valid."


class CustomerNotFound(NotFound):
    message = "No such customer."


class UserNotFound(NotFound):
    message = "No such user."


class WrongPassword(InvalidInput):
    message = "The current password is not right."


class WeakPassword(InvalidInput):
    message = "A password needs at least 8 characters."


class OwnAccount(Conflict):
    message = "Admins may not deactivate themselves or change their own role."


MIN_PASSWORD = 8


@dataclass(frozen=True)
class NewUser:
    email: str
    name: str
    password: str
    role: Role
    customer_id: int | None = None


def check_may_create(by: Actor | None, new: NewUser) -> None:
    """Admins add anyone; a scheduler may add schedulers and billing people to their customer.

    `by=None` is the command line, run by whoever holds the server.
    """
    if by is None or by.role == Role.ADMIN:
        return
    if by.role == Role.SCHEDULER:
        if new.role not in CUSTOMER_ROLES:
            raise Forbidden("Schedulers may only add scheduler or billing users.")
        if new.customer_id != by.customer_id:
            raise Forbidden("Schedulers may only add people to their own customer.")
        return
    raise Forbidden("Your role may not add users.")


async def _check_tenancy(session: AsyncSession, role: Role, customer_id: int | None) -> None:
    if (role in CUSTOMER_ROLES) != (customer_id is not None):
        raise InvalidUser(
            "Customer roles (scheduler, billing) need a customer_id; provider roles must not "
            "have one."
        )
    if customer_id is not None:
        await _require_customer(session, customer_id)


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise WeakPassword()


async def create_user(session: AsyncSession, new: NewUser, *, by: Actor | None) -> User:
    check_may_create(by, new)
    await _check_tenancy(session, new.role, new.customer_id)
    user = User(
        email=new.email.strip().lower(),
        name=new.name,
        password_hash=await hash_password_bounded(new.password),
        role=new.role,
        customer_id=new.customer_id,
        active=True,
        created_at=utcnow(),
    )
    await add_unique(session, user, EmailTaken())
    return user


async def list_users(session: AsyncSession, *, by: Actor) -> Sequence[User]:
    query = select(User).order_by(User.email)
    if by.role == Role.SCHEDULER:
        query = query.where(User.customer_id == by.customer_id)
    elif by.role != Role.ADMIN:
        raise Forbidden("Your role may not list users.")
    return (await session.scalars(query)).all()


def _require_admin(by: Actor) -> None:
    if by.role != Role.ADMIN:
        raise Forbidden("Only admins manage users.")


async def get_user(session: AsyncSession, user_id: int, *, by: Actor) -> User:
    _require_admin(by)
    user = await session.get(User, user_id, with_for_update=True) if user_id <= MAX_KEY else None
    if user is None:
        raise UserNotFound()
    return user


async def _end_sessions(session: AsyncSession, user_id: int) -> None:
    """Every page session, API token and feed key of the user stops working at once."""
    await revoke_all(session, user_id)


async def set_active(session: AsyncSession, user_id: int, *, active: bool, by: Actor) -> User:
    """Admins deactivate (every token, feed key and page session ends at once, and sign-in
    refuses the user) or reactivate; the row and its history stay."""
    user = await get_user(session, user_id, by=by)
    if user.id == by.user_id and not active:
        raise OwnAccount()
    user.active = active
    if not active:
        await _end_sessions(session, user.id)
    await session.flush()
    return user


async def change_role(
    session: AsyncSession, user_id: int, *, role: Role, customer_id: int | None, by: Actor
) -> User:
    """A new role, with the customer the tenancy rule asks for (none for provider roles)."""
    user = await get_user(session, user_id, by=by)
    if user.id == by.user_id:
        raise OwnAccount()
    await _check_tenancy(session, role, customer_id)
    if (user.role, user.customer_id) != (role, customer_id):
        user.role, user.customer_id = role, customer_id
        # Sessions carry the old role's reach (and customer): sign in again under the new one.
        await _end_sessions(session, user.id)
    await session.flush()
    return user


async def reset_password(session: AsyncSession, user_id: int, *, password: str, by: Actor) -> User:
    """An admin sets a new password (told to the user out of band); old sessions end."""
    check_password(password)
    user = await get_user(session, user_id, by=by)
    user.password_hash = await hash_password_bounded(password)
    await _end_sessions(session, user.id)
    await session.flush()
    return user


async def change_own_password(session: AsyncSession, *, current: str, new: str, by: Actor) -> User:
    """Anyone's own password, proven by the current one; other sessions end, this one stays
    (the caller issues it a fresh session)."""
    user = await session.get(User, by.user_id, with_for_update=True)
    if user is None or not user.active:
        raise UserNotFound()
    if not await password_matches(user.password_hash, current):
        raise WrongPassword()
    check_password(new)
    user.password_hash = await hash_password_bounded(new)
    await _end_sessions(session, user.id)
    await session.flush()
    return user


async def customer_choices(session: AsyncSession) -> list[tuple[int, str]]:
    """(id, name) of every customer, for the admin's user form; read, like `_require_customer`,
    through the users' foreign key so the kernel names no domain model."""
    [key] = User.__table__.c.customer_id.foreign_keys
    table = key.column.table
    rows = await session.execute(select(key.column, table.c.name).order_by(table.c.name))
    return [(int(row[0]), str(row[1])) for row in rows]


async def _require_customer(session: AsyncSession, customer_id: int) -> None:
    """The customer row the user's foreign key points at must exist. Read through the key's own
    target column: the kernel knows the table only by that key, never by reservations' model
    (tenancy needs no look-up: check_may_create already kept schedulers to their customer)."""
    [key] = User.__table__.c.customer_id.foreign_keys
    if await session.scalar(select(key.column).where(key.column == customer_id)) is None:
        raise CustomerNotFound()


_COMMAND_LINE = Actor(user_id=0, role=Role.ADMIN, name="command line", email="")
