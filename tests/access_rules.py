"""The vocabulary of the API's access table: who may call a route, and the world it is tried in.

`tests/bridgedesk/test_auth_access.py` holds the table; each package adds its rows from
`tests/<package>/access.py`.
"""

from dataclasses import dataclass, field

from bridgedesk.identity import Role
from bridgedesk.models import User

EVERYONE = frozenset(Role)
PROVIDER = frozenset({Role.ADMIN, Role.OPERATOR, Role.TECHNICIAN, Role.FINANCE})
STAFF = frozenset({Role.ADMIN, Role.OPERATOR})
BOOKERS = frozenset({Role.ADMIN, Role.OPERATOR, Role.SCHEDULER})
SITE_REGISTRARS = frozenset({Role.ADMIN, Role.OPERATOR, Role.TECHNICIAN, Role.SCHEDULER})
USER_MANAGERS = frozenset({Role.ADMIN, Role.SCHEDULER})


@dataclass(frozen=True)
class Rule:
    allowed: frozenset[Role]
    # The route names one customer's data: other customers' users get 403 or 404.
    tenant: bool = False
    # No sign-in needed.
    public: bool = False


@dataclass
class World:
    """Customer A with two sites and a booked series; the requests below all aim at A."""

    customer_id: int
    site_id: int
    spare_site_id: int
    conference_id: int
    series_id: int
    admin: User
    # Records the packages' routes name, e.g. {"probe_id": 7}; filled by their `prepare`.
    ids: dict[str, int] = field(default_factory=dict)

    def path(self, template: str) -> str:
        return template.format(
            customer_id=self.customer_id,
            site_id=self.site_id,
            conference_id=self.conference_id,
            series_id=self.series_id,
            **self.ids,
        )
