"""Who may do what in billing: finance and admins run it; customers' billing users read."""

from bridgedesk.errors import Forbidden
from bridgedesk.identity import Actor, Role

# Run months, issue invoices, write credit memos and rate plans.
RUNNERS = frozenset({Role.ADMIN, Role.FINANCE})
# Read issued invoices and credit memos of their own customer.
CUSTOMER_READERS = frozenset({Role.BILLING})


def is_runner(by: Actor | None) -> bool:
    """`by=None` is the command line or a job, acting for the provider."""
    return by is None or by.role in RUNNERS


def require_runner(by: Actor | None, doing: str) -> None:
    if not is_runner(by):
        raise Forbidden(f"Only finance and admins {doing}.")


def require_reader(by: Actor) -> None:
    if by.role not in RUNNERS | CUSTOMER_READERS:
        raise Forbidden("Only finance, admins and customers' billing users see invoices.")
