"""Demo data for a first look: the provider's staff, then each package's own demo in layer order."""

from collections.abc import Callable

from billing.demo import load_billing_demo
from bridge.demo import load_call_history
from bridgedesk.auth import actor_of
from bridgedesk.db import unit_of_work
from bridgedesk.identity import Role
from bridgedesk.users import NewUser, create_user
from certification.demo import load_demo_states as load_certification_demo
from monitoring import demo as monitoring_demo
from reservations import demo as reservations_demo
from reservations.service import registry

DEMO_PASSWORD = "demo-password"


async def load_demo(progress: Callable[[str], object] = lambda _: None) -> str:
    """Load the demo once; running it again changes nothing."""
    async with unit_of_work() as session:
        if await registry.count_customers(session):
            return "demo data already present; nothing changed"
        progress("users")
        staff = {}
        for role in (Role.ADMIN, Role.OPERATOR, Role.TECHNICIAN, Role.FINANCE):
            staff[role] = await create_user(
                session,
                NewUser(
                    f"{role.value}@bridgedesk.example", role.value.title(), DEMO_PASSWORD, role
                ),
                by=None,
            )
        progress("customers, sites and bookings")
        reservations = await reservations_demo.load(
            session, admin=actor_of(staff[Role.ADMIN]), password=DEMO_PASSWORD, progress=progress
        )
        customers, sites = reservations.customers, reservations.sites
        # Each package's demo data below its own marker, in this order: the bridge's month of
        # call records, certification states, monitoring history, billing's rate plans.
        # -- bridge demo --
        progress("a month of calls")
        await load_call_history(session, customers, sites, by=actor_of(staff[Role.ADMIN]))
        # -- certification demo --
        progress("certification states")
        await load_certification_demo(
            session,
            certified=[(sites[i].id, sites[i].sip_uri) for i in (0, 1, 4)],
            testing=[(sites[2].id, sites[2].sip_uri)],
            recertify=[(sites[3].id, sites[3].sip_uri)],
            by=actor_of(staff[Role.TECHNICIAN]),
        )
        # -- monitoring demo --
        progress("monitoring history")
        await monitoring_demo.load(session, actor_of(staff[Role.ADMIN]))
        # -- billing demo --
        progress("rate plans and last month's draft invoices")
        await load_billing_demo(session, customers)
    return (
        "demo data loaded. Sign in at http://127.0.0.1:8000/login as "
        f"scheduler@acme.example, operator@bridgedesk.example or admin@bridgedesk.example "
        f"(password {DEMO_PASSWORD!r})"
    )
