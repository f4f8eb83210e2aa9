"""The monitoring package's rows of the API access table (tests/bridgedesk/test_auth_access.py)."""

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bridgedesk.auth import actor_of
from bridgedesk.clock import utcnow
from bridgedesk.identity import Role
from bridgedesk.models import User
from monitoring.models import SlaPolicy
from monitoring.service import contracts, defects, maintenance, ticket_handling, tickets, uptime
from tests.access_rules import EVERYONE, PROVIDER, STAFF, Rule, World

HANDLERS = frozenset({Role.ADMIN, Role.OPERATOR, Role.TECHNICIAN})
OPENERS = HANDLERS | {Role.SCHEDULER}
CONTRACT_READERS = EVERYONE - {Role.BILLING}

ACCESS: dict[tuple[str, str], Rule] = {
    ("GET", "/api/v1/uptime"): Rule(EVERYONE),
    ("POST", "/api/v1/outages"): Rule(STAFF),
    ("GET", "/api/v1/outages"): Rule(PROVIDER),
    ("PATCH", "/api/v1/outages/{outage_id}"): Rule(STAFF),
    ("POST", "/api/v1/maintenance-windows"): Rule(STAFF),
    ("GET", "/api/v1/maintenance-windows"): Rule(EVERYONE),
    ("PATCH", "/api/v1/maintenance-windows/{window_id}"): Rule(STAFF),
    ("DELETE", "/api/v1/maintenance-windows/{window_id}"): Rule(STAFF),
    ("GET", "/api/v1/call-stats"): Rule(EVERYONE, tenant=True),
    ("POST", "/api/v1/tickets"): Rule(OPENERS, tenant=True),
    ("GET", "/api/v1/tickets"): Rule(EVERYONE),
    ("GET", "/api/v1/tickets/{ticket_id}"): Rule(EVERYONE, tenant=True),
    ("POST", "/api/v1/tickets/{ticket_id}/respond"): Rule(HANDLERS, tenant=True),
    ("POST", "/api/v1/tickets/{ticket_id}/update"): Rule(HANDLERS, tenant=True),
    ("POST", "/api/v1/tickets/{ticket_id}/escalate"): Rule(HANDLERS, tenant=True),
    ("POST", "/api/v1/tickets/{ticket_id}/wait"): Rule(HANDLERS, tenant=True),
    ("POST", "/api/v1/tickets/{ticket_id}/resume"): Rule(HANDLERS, tenant=True),
    ("POST", "/api/v1/tickets/{ticket_id}/resolve"): Rule(HANDLERS, tenant=True),
    ("POST", "/api/v1/tickets/{ticket_id}/reopen"): Rule(OPENERS, tenant=True),
    ("POST", "/api/v1/tickets/{ticket_id}/work"): Rule(HANDLERS, tenant=True),
    ("POST", "/api/v1/tickets/{ticket_id}/charge-consent"): Rule(OPENERS, tenant=True),
    ("POST", "/api/v1/tickets/{ticket_id}/await-patch"): Rule(HANDLERS, tenant=True),
    ("POST", "/api/v1/support-contracts"): Rule(STAFF, tenant=True),
    ("GET", "/api/v1/support-contracts"): Rule(CONTRACT_READERS),
    ("GET", "/api/v1/support-contracts/{contract_id}"): Rule(CONTRACT_READERS, tenant=True),
    ("PATCH", "/api/v1/support-contracts/{contract_id}"): Rule(
        STAFF | {Role.SCHEDULER}, tenant=True
    ),
    ("GET", "/api/v1/desk/queue"): Rule(HANDLERS),
    ("POST", "/api/v1/desk/queue/next"): Rule(HANDLERS),
    ("GET", "/api/v1/desk/figures"): Rule(EVERYONE, tenant=True),
    ("POST", "/api/v1/defects"): Rule(HANDLERS),
    ("GET", "/api/v1/defects"): Rule(HANDLERS),
    ("GET", "/api/v1/defects/{defect_id}"): Rule(HANDLERS),
    ("POST", "/api/v1/defects/{defect_id}/release"): Rule(HANDLERS),
    ("GET", "/api/v1/sla-policies"): Rule(PROVIDER),
    ("PUT", "/api/v1/customers/{customer_id}/sla-policy"): Rule(STAFF, tenant=True),
    # The service report: the customer's own users and provider staff.
    ("GET", "/api/v1/customers/{customer_id}/service-report"): Rule(EVERYONE, tenant=True),
    ("GET", "/api/v1/customers/{customer_id}/service-report.html"): Rule(EVERYONE, tenant=True),
    ("GET", "/api/v1/customers/{customer_id}/service-report.pdf"): Rule(EVERYONE, tenant=True),
}

# The state the ticket must be in for each action to be allowed.
_TICKET_STATE = {
    "update": "responded",
    "wait": "responded",
    "resume": "waiting",
    "reopen": "resolved",
}


def _current_route(request: pytest.FixtureRequest) -> tuple[str, str] | None:
    callspec = getattr(request.node, "callspec", None)
    route = callspec.params.get("route") if callspec is not None else None
    return route if isinstance(route, tuple) else None


async def prepare(world: World, request: pytest.FixtureRequest) -> None:
    """Create the records this package's routes name and put their ids in `world.ids`."""
    db = request.getfixturevalue("db")
    admin = actor_of(world.admin)
    now = utcnow()
    outage = await uptime.record_outage(
        db,
        uptime.ManualOutage("bridge", now - timedelta(hours=3), now - timedelta(hours=2)),
        by=admin,
    )
    window = await maintenance.create_window(
        db,
        maintenance.WindowData(
            "bridge", now + timedelta(days=5), now + timedelta(days=5, hours=1), "Upgrade"
        ),
        by=admin,
    )
    ticket = await tickets.open_ticket(
        db,
        tickets.NewTicket(world.customer_id, "SL3", "Cannot book", "Booking page fails", "web"),
        by=admin,
    )
    route = _current_route(request)
    action = route[1].rsplit("/", 1)[-1] if route else ""
    state = _TICKET_STATE.get(action, "open")
    if state in ("responded", "waiting"):
        await ticket_handling.respond(db, ticket.id, note=None, severity=None, by=admin)
    if state == "waiting":
        await ticket_handling.wait_on_customer(db, ticket.id, note=None, by=admin)
    if state == "resolved":
        await ticket_handling.resolve(
            db, ticket.id, closure_reason="solved_without_code_change", note=None, by=admin
        )
    # A call waiting in the phone queue, a contract and an open defect.
    await tickets.open_ticket(
        db,
        tickets.NewTicket(
            world.customer_id,
            "SL2",
            "Echo on the line",
            "Calling about echo",
            "phone",
            offered_at=now - timedelta(minutes=2),
        ),
        by=admin,
    )
    contract = await contracts.create_contract(
        db,
        contracts.NewContract(
            world.customer_id,
            ["Boardroom codec"],
            [contracts.AuthorizedPerson("Dana Authorized")],
            now.date(),
        ),
        by=admin,
    )
    defect = await defects.create_defect(
        db, defects.NewDefect("defect", "Echo", "Echo on long calls"), by=admin
    )
    world.ids["contract_id"] = contract.id
    world.ids["defect_id"] = defect.id
    world.ids["outage_id"] = outage.id
    world.ids["window_id"] = window.id
    world.ids["ticket_id"] = ticket.id
    world.ids["policy_id"] = await db.scalar(
        select(SlaPolicy.id).where(SlaPolicy.is_default.is_(False)).order_by(SlaPolicy.id)
    )


def _iso(delta: timedelta) -> str:
    return (utcnow() + delta).replace(microsecond=0).isoformat()


def request_for(route: tuple[str, str], world: World, caller: User | None) -> dict[str, Any]:
    """A well-formed request for one of this package's routes."""
    month = utcnow().strftime("%Y-%m")
    method, path = route
    if path == "/api/v1/uptime":
        return {"params": {"month": month, "component": "bridge"}}
    if route == ("POST", "/api/v1/outages"):
        return {
            "json": {
                "component": "reservations",
                "start": _iso(-timedelta(hours=2)),
                "end": _iso(-timedelta(hours=1)),
                "note": "customer report",
            }
        }
    if route == ("PATCH", "/api/v1/outages/{outage_id}"):
        return {"json": {"force_majeure": True, "note": "regional power cut"}}
    if route == ("POST", "/api/v1/maintenance-windows"):
        return {
            "json": {
                "component": "reservations",
                "start": _iso(timedelta(days=6)),
                "end": _iso(timedelta(days=6, hours=2)),
                "reason": "Database upgrade",
            }
        }
    if route == ("PATCH", "/api/v1/maintenance-windows/{window_id}"):
        return {"json": {"start": _iso(timedelta(days=7)), "end": _iso(timedelta(days=7, hours=1))}}
    if path.startswith("/api/v1/customers/{customer_id}/service-report"):
        return {"params": {"month": month}}
    if path == "/api/v1/call-stats":
        return {"params": {"month": month, "customer_id": world.customer_id}}
    if route == ("POST", "/api/v1/tickets"):
        return {
            "json": {
                "customer_id": world.customer_id,
                "severity": "SL2",
                "summary": "Recording missing",
                "description": "Yesterday's recording is not in the portal.",
                "channel": "web",
            }
        }
    if route == ("POST", "/api/v1/tickets/{ticket_id}/work"):
        return {"json": {"minutes": 5}}
    if route == ("POST", "/api/v1/tickets/{ticket_id}/await-patch"):
        return {"json": {"defect_id": world.ids["defect_id"]}}
    if route == ("POST", "/api/v1/support-contracts"):
        return {
            "json": {
                "customer_id": world.customer_id,
                "systems": ["Lobby codec"],
                "authorized": [{"name": "Lee Caller", "email": "lee@example.com"}],
                "starts_on": utcnow().date().isoformat(),
            }
        }
    if route == ("PATCH", "/api/v1/support-contracts/{contract_id}"):
        return {"json": {"add_authorized": [{"name": "Robin Added"}]}}
    if path == "/api/v1/desk/figures":
        return {"params": {"month": month, "customer_id": world.customer_id}}
    if route == ("POST", "/api/v1/defects"):
        return {"json": {"title": "Slides freeze", "description": "At 30 min."}}
    if route == ("POST", "/api/v1/defects/{defect_id}/release"):
        return {"json": {"release": "4.2.1"}}
    if path.endswith("/update"):
        return {"json": {"note": "Engineering is looking at it."}}
    if path.endswith("/resolve"):
        return {"json": {"closure_reason": "third_party_component"}}
    if method == "POST" and path.startswith("/api/v1/tickets/"):
        return {"json": {}}
    if route == ("PUT", "/api/v1/customers/{customer_id}/sla-policy"):
        return {"json": {"policy_id": world.ids["policy_id"]}}
    return {}
