"""Who is acting: roles, and the plain Actor value that services receive instead of web objects."""

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"
    TECHNICIAN = "technician"
    FINANCE = "finance"
    SCHEDULER = "scheduler"
    BILLING = "billing"


PROVIDER_ROLES = frozenset({Role.ADMIN, Role.OPERATOR, Role.TECHNICIAN, Role.FINANCE})
CUSTOMER_ROLES = frozenset({Role.SCHEDULER, Role.BILLING})


@dataclass(frozen=True)
class Actor:
    """The authenticated user as services see it."""

    user_id: int
    role: Role
    name: str
    email: str
    customer_id: int | None = None

    @property
    def is_provider(self) -> bool:
        return self.role in PROVIDER_ROLES

    def may_see_customer(self, customer_id: int) -> bool:
        """Provider staff see every customer; a customer's users see only their own."""
        return self.is_provider or self.customer_id == customer_id
