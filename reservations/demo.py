"""Reservations' demo data (`bridgedesk demo`): two customers with their schedulers and billing
users, their sites, two bridges, and the coming week's bookings."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bridgedesk.auth import actor_of
from bridgedesk.clock import utcnow
from bridgedesk.identity import Actor, Role
from bridgedesk.users import NewUser, create_user
from reservations.models import Customer, Site, SiteKind
from reservations.service import booking, registry

CUSTOMERS = (
    ("Acme Corporation", "America/New_York", ["ap@acme.example"]),
    ("Kiribati Shipping", "Pacific/Kiritimati", ["finance@kiribati-shipping.example"]),
)
SITES = (
    # customer index, name, kind, zone, speed, zone code
    (0, "New York HQ Boardroom", SiteKind.ROOM, "America/New_York", 2048, "US-EAST"),
    (0, "Chicago Office", SiteKind.ROOM, "America/Chicago", 1536, "US-CENTRAL"),
    (0, "London Partner Suite", SiteKind.EXTERNAL, "Europe/London", 768, "EU"),
    (0, "Denver Lab", SiteKind.ROOM, "America/Denver", 384, "US-WEST"),
    (1, "Kiritimati Harbour Office", SiteKind.ROOM, "Pacific/Kiritimati", 768, "PACIFIC"),
    (1, "Pago Pago Agent", SiteKind.EXTERNAL, "Pacific/Pago_Pago", 384, "PACIFIC"),
)


@dataclass(frozen=True)
class ReservationsDemo:
    customers: list[Customer]
    sites: list[Site]


async def load(
    session: AsyncSession,
    *,
    admin: Actor,
    password: str,
    progress: Callable[[str], object] = lambda _: None,
) -> ReservationsDemo:
    """Customers, their users, sites and bookings; `admin` registers the sites."""
    progress("bridges")
    for number in (1, 2):
        # Each bridge on an endpoint of its own: the sites (127.0.0.1:5060) may not be a
        # bridge (SPEC §5 "What may be dialed").
        uri = f"sip:bridge{number}@127.0.0.1:{5080 + number}"
        await registry.create_bridge(
            session, registry.BridgeData(f"Bridge {number}", uri, 48, 8), by=None
        )
    progress("customers")
    customers = [
        await registry.create_customer(
            session,
            registry.CustomerData(name, zone, emails, {"name": "Pat Primary", "email": emails[0]}),
            by=None,
        )
        for name, zone, emails in CUSTOMERS
    ]
    schedulers = []
    for index, customer in enumerate(customers):
        slug = ("acme", "kiribati")[index]
        schedulers.append(
            await create_user(
                session,
                NewUser(
                    f"scheduler@{slug}.example",
                    f"{customer.name} Scheduler",
                    password,
                    Role.SCHEDULER,
                    customer.id,
                ),
                by=None,
            )
        )
        await create_user(
            session,
            NewUser(
                f"billing@{slug}.example",
                f"{customer.name} Billing",
                password,
                Role.BILLING,
                customer.id,
            ),
            by=None,
        )
    progress("sites")
    sites: list[Site] = []
    for customer_index, name, kind, zone, speed, billing_zone in SITES:
        sites.append(
            await registry.create_site(
                session,
                registry.SiteData(
                    customer_id=customers[customer_index].id,
                    name=name,
                    kind=kind,
                    timezone=zone,
                    sip_uri=f"sip:site{len(sites) + 1}@127.0.0.1",
                    audio_uri=f"sip:audio{len(sites) + 1}@127.0.0.1",
                    max_speed_kbps=speed,
                    billing_zone=billing_zone,
                    contacts=[
                        {
                            "name": "Site Technician",
                            "phone": "+1 555 0100",
                            "email": f"tech{len(sites) + 1}@example.com",
                        }
                    ],
                ),
                by=admin,
            )
        )
    progress("bookings")
    base = utcnow().replace(minute=0, second=0, microsecond=0) + timedelta(hours=2)
    plan = [
        (0, "Weekly sales review", [0, 1], 0, 1),
        (0, "Partner briefing", [0, 2], 1, 2),
        (0, "Lab walkthrough", [3, 1], 3, 1),
        (0, "Board meeting", [0, 1, 2, 3], 8, 3),
        (1, "Harbour schedule", [4, 5], 0, 1),
        (1, "Agents' monthly", [4, 5], 26, 2),
    ]
    for customer_index, title, site_indexes, days, hours in plan:
        start = base + timedelta(days=days)
        await booking.book(
            session,
            booking.BookingRequest(
                customer_id=customers[customer_index].id,
                title=title,
                leader_name="Dana Leader",
                start=start,
                end=start + timedelta(hours=hours),
                sites=[booking.SiteRequest(sites[i].id) for i in site_indexes],
                project_code="PRJ-100",
            ),
            by=actor_of(schedulers[customer_index]),
        )
    return ReservationsDemo(customers, sites)
