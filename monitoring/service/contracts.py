"""Support contracts (SPEC §6, seed 000): the systems a customer's contract covers, its
policy, its term and its authorized persons; and the check a ticket's caller goes through,
which decides whether the desk serves the call under contract or best effort."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bridgedesk.clock import utcnow
from bridgedesk.db import MAX_KEY
from bridgedesk.errors import Conflict, Forbidden, InvalidInput, NotFound
from bridgedesk.identity import Actor, Role
from monitoring.models import SlaPolicy, SupportContract
from reservations.service import registry

CONTRACT_MANAGERS = frozenset({Role.ADMIN, Role.OPERATOR})
# Why a call is served best effort, in the order the check finds it.
BEST_EFFORT_REASONS = ("no_contract", "system_not_covered", "caller_not_authorized")


@dataclass(frozen=True)
class BestEffortTerms:
    """Best effort (SPEC §6): "the first 10 minutes of support per issue are free, and work
    beyond them is charged ($500 per issue by default)", in the customer's plan currency."""

    free_minutes: int = 10
    charge_per_issue: Decimal = Decimal("500")


BEST_EFFORT_TERMS = BestEffortTerms()


class ContractNotFound(NotFound):
    message = "No such support contract."


class SystemsFixed(Conflict):
    message = (
        "A contract's systems are fixed once it has started; another system needs another contract."
    )


@dataclass(frozen=True)
class AuthorizedPerson:
    name: str
    email: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class NewContract:
    customer_id: int
    systems: Sequence[str]
    authorized: Sequence[AuthorizedPerson]
    starts_on: date
    ends_on: date | None = None
    policy_id: int | None = None


@dataclass(frozen=True)
class ContractChange:
    add_authorized: Sequence[AuthorizedPerson] = ()
    systems: Sequence[str] | None = None
    ends_on: date | None = None
    policy_id: int | None = None


@dataclass(frozen=True)
class Coverage:
    """What the check found: the contract the call was held against (if any), the policy
    it names, and why the call is best effort (None: under contract)."""

    contract_id: int | None
    policy_id: int | None
    best_effort_reason: str | None

    @property
    def best_effort(self) -> bool:
        return self.best_effort_reason is not None


def contract_number(contract_id: int) -> str:
    return f"SC-{contract_id:06d}"


def _norm(text: str | None) -> str:
    return " ".join((text or "").split()).casefold()


def _systems(systems: Sequence[str]) -> list[str]:
    cleaned = [" ".join(s.split()) for s in systems if s.strip()]
    if not cleaned:
        raise InvalidInput("A contract covers at least one system.")
    return sorted(set(cleaned), key=cleaned.index)


def _person(person: AuthorizedPerson, by: Actor) -> dict[str, Any]:
    if not person.name.strip():
        raise InvalidInput("An authorized person needs a name.")
    return {
        "name": " ".join(person.name.split()),
        "email": person.email,
        "phone": person.phone,
        "added_by": by.name,
        "added_at": utcnow().isoformat(),
    }


async def _check_policy(session: AsyncSession, policy_id: int | None) -> None:
    if policy_id is not None and (
        not 1 <= policy_id <= MAX_KEY or await session.get(SlaPolicy, policy_id) is None
    ):
        raise InvalidInput("No such SLA policy.")


async def create_contract(
    session: AsyncSession, data: NewContract, *, by: Actor
) -> SupportContract:
    if by.role not in CONTRACT_MANAGERS:
        raise Forbidden("Only operators and admins make support contracts.")
    customer = await registry.get_customer(session, data.customer_id, by=by)
    if data.ends_on is not None and data.ends_on < data.starts_on:
        raise InvalidInput("ends_on must not be before starts_on.")
    await _check_policy(session, data.policy_id)
    contract = SupportContract(
        customer_id=customer.id,
        policy_id=data.policy_id,
        systems=_systems(data.systems),
        authorized=[_person(p, by) for p in data.authorized],
        starts_on=data.starts_on,
        ends_on=data.ends_on,
        created_at=utcnow(),
        created_by=by.name,
    )
    session.add(contract)
    await session.flush()
    return contract


async def get_contract(
    session: AsyncSession, contract_id: int, *, by: Actor, lock: bool = False
) -> SupportContract:
    if not 1 <= contract_id <= MAX_KEY:
        raise ContractNotFound()
    contract = await session.get(
        SupportContract, contract_id, with_for_update=lock, populate_existing=lock
    )
    if contract is None or not by.may_see_customer(contract.customer_id):
        raise ContractNotFound()
    if by.role == Role.BILLING:
        raise Forbidden("Support contracts are for the help desk and the customer's schedulers.")
    return contract


async def list_contracts(
    session: AsyncSession, *, by: Actor, customer_id: int | None = None
) -> Sequence[SupportContract]:
    if by.role == Role.BILLING:
        raise Forbidden("Support contracts are for the help desk and the customer's schedulers.")
    query = select(SupportContract).order_by(SupportContract.id)
    if not by.is_provider:
        query = query.where(SupportContract.customer_id == by.customer_id)
    if customer_id is not None:
        query = query.where(SupportContract.customer_id == customer_id)
    return (await session.scalars(query)).all()


def _is_authorized_user(contract: SupportContract, by: Actor) -> bool:
    """The customer's schedulers, and any of its users named on the contract by email."""
    if by.customer_id != contract.customer_id:
        return False
    if by.role == Role.SCHEDULER:
        return True
    return any(_norm(p.get("email")) == _norm(by.email) for p in contract.authorized)


async def change_contract(
    session: AsyncSession, contract_id: int, change: ContractChange, *, by: Actor
) -> SupportContract:
    """Staff change a contract's terms; an authorized person (and the customer's schedulers)
    may only add further authorized persons."""
    contract = await get_contract(session, contract_id, by=by, lock=True)
    manager = by.role in CONTRACT_MANAGERS
    if not manager:
        if not _is_authorized_user(contract, by):
            raise Forbidden("Only the contract's authorized persons may add names to it.")
        if change.systems is not None or change.ends_on is not None or change.policy_id:
            raise Forbidden("Customers may only add authorized persons to a contract.")
    if change.systems is not None:
        if contract.starts_on <= utcnow().date():
            raise SystemsFixed()
        contract.systems = _systems(change.systems)
    if change.ends_on is not None:
        if change.ends_on < contract.starts_on:
            raise InvalidInput("ends_on must not be before starts_on.")
        contract.ends_on = change.ends_on
    if change.policy_id is not None:
        await _check_policy(session, change.policy_id)
        contract.policy_id = change.policy_id
    if change.add_authorized:
        known = {_norm(p["name"]) for p in contract.authorized}
        added = [_person(p, by) for p in change.add_authorized if _norm(p.name) not in known]
        contract.authorized = [*contract.authorized, *added]
    await session.flush()
    return contract


def _in_force(contract: SupportContract, on: date) -> bool:
    return contract.starts_on <= on and (contract.ends_on is None or on <= contract.ends_on)


def _names_caller(contract: SupportContract, name: str | None, email: str | None) -> bool:
    return any(
        (name and _norm(p.get("name")) == _norm(name))
        or (email and p.get("email") and _norm(p.get("email")) == _norm(email))
        for p in contract.authorized
    )


def _covers(contract: SupportContract, system: str | None) -> bool:
    # No system named: nothing to hold against the list (the desk asks and records it).
    return system is None or _norm(system) in {_norm(s) for s in contract.systems}


async def coverage_for(
    session: AsyncSession,
    customer_id: int,
    *,
    on: date,
    caller_name: str | None,
    caller_email: str | None,
    system: str | None,
    account: str | None,
) -> Coverage:
    """Check a call against the customer's contracts in force `on` (SPEC §6): no contract,
    a system none of them covers, or a caller none of them names is served best effort."""
    contracts = [
        c
        for c in await session.scalars(
            select(SupportContract)
            .where(SupportContract.customer_id == customer_id)
            .order_by(SupportContract.id)
        )
        if _in_force(c, on)
    ]
    if account:
        # The caller gave a contract number: hold the call against that contract only.
        named = [
            c for c in contracts if _norm(account) in (_norm(contract_number(c.id)), str(c.id))
        ]
        contracts = named or contracts
    if not contracts:
        return Coverage(None, None, "no_contract")
    covering = [c for c in contracts if _covers(c, system)]
    if not covering:
        return Coverage(contracts[0].id, contracts[0].policy_id, "system_not_covered")
    naming = [c for c in covering if _names_caller(c, caller_name, caller_email)]
    if not naming:
        return Coverage(covering[0].id, covering[0].policy_id, "caller_not_authorized")
    return Coverage(naming[0].id, naming[0].policy_id, None)
