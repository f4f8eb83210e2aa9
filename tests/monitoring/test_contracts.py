"""Support contracts: a ticket's caller and system are checked against the customer's
contracts; an unauthorized caller, a system outside the contract, or no contract at all is
served best effort, and the reason is recorded. Authorized persons may add names."""

from datetime import UTC, date, datetime

import pytest
import time_machine
from sqlalchemy import select

from bridgedesk.identity import Role
from monitoring.models import SlaPolicy

T = datetime(2027, 1, 12, 15, 0, tzinfo=UTC)  # a Tuesday, 10:00 in New York


def ticket(customer_id: int, caller: str, system: str, **extra):
    return {
        "customer_id": customer_id,
        "severity": "SL2",
        "summary": "Far end frozen",
        "description": "Video freezes every few minutes.",
        "channel": "phone",
        "caller_name": caller,
        "caller_system": system,
        **extra,
    }


@pytest.fixture
async def contract(db, make_customer, client_as):
    customer = await make_customer(timezone="America/New_York")
    eastern = await db.scalar(
        select(SlaPolicy.id).where(SlaPolicy.name.startswith("Business hours 08:00-20:00"))
    )
    with time_machine.travel(T, tick=False):
        operator = await client_as(Role.OPERATOR)
        response = await operator.post(
            "/api/v1/support-contracts",
            json={
                "customer_id": customer.id,
                "policy_id": eastern,
                "systems": ["Boardroom codec", "Lab MCU"],
                "authorized": [{"name": "Dana Reyes", "email": "dana@acme.example"}],
                "starts_on": "2027-01-01",
                "ends_on": "2027-12-31",
            },
        )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["number"] == f"SC-{body['id']:06d}"
    return {"customer": customer, "contract": body, "eastern": eastern}


async def _open(client, body):
    response = await client.post("/api/v1/tickets", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def test_the_caller_and_system_decide_contract_or_best_effort(db, contract, client_as):
    customer, held = contract["customer"], contract["contract"]
    with time_machine.travel(T, tick=False):
        desk = await client_as(Role.OPERATOR)
        covered = await _open(desk, ticket(customer.id, " dana  REYES", "boardroom codec"))
        stranger = await _open(desk, ticket(customer.id, "Mallory Smith", "Boardroom codec"))
        other_system = await _open(desk, ticket(customer.id, "Dana Reyes", "Lobby TV"))
    assert (covered["contract_id"], covered["best_effort"], covered["best_effort_reason"]) == (
        held["id"],
        False,
        None,
    )
    # Under contract the ticket runs on the contract's policy (Eastern: SL2 in 48 wall hours).
    assert covered["policy_id"] == contract["eastern"]
    assert (stranger["contract_id"], stranger["best_effort"]) == (held["id"], True)
    assert stranger["best_effort_reason"] == "caller_not_authorized"
    assert (other_system["best_effort"], other_system["best_effort_reason"]) == (
        True,
        "system_not_covered",
    )
    # Best effort runs on the customer's policy (here the default), not the contract's.
    assert stranger["policy_id"] != contract["eastern"]


async def test_a_customer_without_a_contract_is_best_effort(db, make_customer, client_as):
    customer = await make_customer()
    desk = await client_as(Role.OPERATOR)
    opened = await _open(desk, ticket(customer.id, "Dana Reyes", "Boardroom codec"))
    assert (opened["contract_id"], opened["best_effort"], opened["best_effort_reason"]) == (
        None,
        True,
        "no_contract",
    )


async def test_a_contract_outside_its_term_does_not_cover(db, contract, client_as):
    customer = contract["customer"]
    with time_machine.travel(datetime(2028, 1, 3, 15, tzinfo=UTC), tick=False):
        desk = await client_as(Role.OPERATOR)
        late = await _open(desk, ticket(customer.id, "Dana Reyes", "Boardroom codec"))
    assert late["best_effort_reason"] == "no_contract"


async def test_authorized_persons_may_add_names_and_only_names(db, contract, client_as):
    customer, held = contract["customer"], contract["contract"]
    path = f"/api/v1/support-contracts/{held['id']}"
    with time_machine.travel(T, tick=False):
        scheduler = await client_as(Role.SCHEDULER, customer_id=customer.id)
        added = await scheduler.patch(
            path, json={"add_authorized": [{"name": "Mallory Smith", "phone": "+1 555 0101"}]}
        )
        assert added.status_code == 200, added.text
        assert [p["name"] for p in added.json()["authorized"]] == ["Dana Reyes", "Mallory Smith"]
        # The systems are fixed once the contract has started, for customers and staff alike.
        assert (await scheduler.patch(path, json={"systems": ["Lobby TV"]})).status_code == 403
        operator = await client_as(Role.OPERATOR)
        fixed = await operator.patch(path, json={"systems": ["Lobby TV"]})
        assert fixed.status_code == 409, fixed.text
        # Billing users do not see support contracts, even one that names them.
        billing = await client_as(Role.BILLING, customer_id=customer.id, email="dana@acme.example")
        assert (await billing.get(path)).status_code == 403
        now_covered = await _open(
            operator, ticket(customer.id, "Mallory Smith", "Lab MCU", caller_account=held["number"])
        )
    assert (now_covered["best_effort"], now_covered["contract_id"]) == (False, held["id"])


async def test_a_contract_s_systems_may_change_before_it_starts(db, make_customer, client_as):
    customer = await make_customer()
    with time_machine.travel(T, tick=False):
        operator = await client_as(Role.OPERATOR)
        created = await operator.post(
            "/api/v1/support-contracts",
            json={
                "customer_id": customer.id,
                "systems": ["Boardroom codec"],
                "starts_on": str(date(2027, 2, 1)),
            },
        )
        changed = await operator.patch(
            f"/api/v1/support-contracts/{created.json()['id']}",
            json={"systems": ["Boardroom codec", "Lobby TV"]},
        )
    assert changed.status_code == 200, changed.text
    assert changed.json()["systems"] == ["Boardroom codec", "Lobby TV"]


async def test_the_customer_hears_of_the_ticket_with_the_help_desk_s_numbers(
    db, make_customer, client_as, smtp_server, monkeypatch
):
    from bridgedesk.app.jobs import send_outbox_job
    from bridgedesk.settings import get_settings

    monkeypatch.setenv("BRIDGEDESK_HELPDESK_PHONE", "+1 212 555 0142")
    monkeypatch.setenv("BRIDGEDESK_HELPDESK_ADDRESS", "Desk, 9 Harbour Road, Portland")
    get_settings.cache_clear()
    customer = await make_customer()
    with time_machine.travel(T, tick=False):
        scheduler = await client_as(Role.SCHEDULER, customer_id=customer.id)
        opened = await _open(scheduler, ticket(customer.id, "Pat Caller", "Lobby TV"))
        assert await send_outbox_job() == 1
    [(to, mail)] = smtp_server.mailbox.with_subject(f"Ticket #{opened['id']} received")
    assert to == [scheduler.user.email]
    text = mail.get_content()
    assert "+1 212 555 0142" in text and "Desk, 9 Harbour Road, Portland" in text
    assert "best effort (no contract)" in text and "first 10 minutes" in text
    assert "Answer by:   2027-01-12 15:30 UTC" in text  # SL2: 30 minutes
