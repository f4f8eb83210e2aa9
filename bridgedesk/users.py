"""Creating and deactivating users: who may add whom, the tenancy rule for customer roles,
and what deactivation takes away (every token, feed key and page session)."""

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bridgedesk.auth import hash_password_bounded, revoke_all
from bridgedesk.clock import utcnow
from bridgedesk.db import add_unique
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


class CannotDeactivateSelf(Conflict):
    message = "You cannot deactivate yourself; ask another admin."


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


async def create_user(session: AsyncSession, new: NewUser, *, by: Actor | None) -> User:
    check_may_create(by, new)
    if (new.role in CUSTOMER_ROLES) != (new.customer_id is not None):
        raise InvalidUser(
            "Customer roles (scheduler, billing) need a customer_id; provider roles must not "
            "have one."
        )
    if new.customer_id is not None:
        await _require_customer(session, new.customer_id)
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


async def _require_customer(session: AsyncSession, customer_id: int) -> None:
    """The customer row the user's foreign key points at must exist. Read through the key's own
    target column: the kernel knows the table only by that key, never by reservations' model
    (tenancy needs no look-up: check_may_create already kept schedulers to their customer)."""
    [key] = User.__table__.c.customer_id.foreign_keys
    if await session.scalar(select(key.column).where(key.column == customer_id)) is None:
        raise CustomerNotFound()


async def set_active(session: AsyncSession, user_id: int, active: bool, *, by: Actor) -> User:
    """Admins (de)activate users. Deactivation ends every token, feed key and page session
    at once, and sign-in refuses the user until an admin activates them again."""
    if by.role != Role.ADMIN:
        raise Forbidden("Only admins may deactivate or activate users.")
    user = await session.get(User, user_id)
    if user is None:
        raise UserNotFound()
    if not active and user.id == by.user_id:
        raise CannotDeactivateSelf()
    user.active = active
    if not active:
        await revoke_all(session, user.id)
    await session.flush()
    return user


_COMMAND_LINE = Actor(user_id=0, role=Role.ADMIN, name="command line", email="")
