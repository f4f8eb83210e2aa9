"""The SLA readings SPEC §6 settles, worked by hand on the shipped Eastern policy (business
hours 08:00-20:00 America/New_York, Mon-Fri, US holidays; after hours for Severity 1 only):
"Severity 3 within 48 hours" is 48 wall-clock hours; a severity the after-hours line does not
take waits for the next opening; the one it takes starts at once and pages the on-call."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select

from bridgedesk.identity import Role
from bridgedesk.models import OutboxMessage
from bridgedesk.settings import get_settings
from monitoring.models import SlaPolicy

NY = ZoneInfo("America/New_York")


@pytest.fixture
async def eastern_customer(db, make_customer, client_as):
    customer = await make_customer(timezone="America/New_York")
    eastern = await db.scalar(
        select(SlaPolicy.id).where(SlaPolicy.name.startswith("Business hours 08:00-20:00"))
    )
    admin = await client_as(Role.ADMIN)
    assigned = await admin.put(
        f"/api/v1/customers/{customer.id}/sla-policy", json={"policy_id": eastern}
    )
    assert assigned.status_code == 200, assigned.text
    return customer


@pytest.fixture
def paging(monkeypatch):
    monkeypatch.setenv("BRIDGEDESK_ONCALL_WEBHOOK_URL", "http://127.0.0.1:9/oncall")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def _open(client_as, customer, severity, at, channel="phone"):
    with time_machine.travel(at, tick=False):
        desk = await client_as(Role.OPERATOR)
        response = await desk.post(
            "/api/v1/tickets",
            json={
                "customer_id": customer.id,
                "severity": severity,
                "summary": "Content sharing fails",
                "description": "Slides do not reach the far end.",
                "channel": channel,
            },
        )
    assert response.status_code == 201, response.text
    ticket = response.json()
    return {
        key: datetime.fromisoformat(ticket[key]).astimezone(NY)
        for key in ("clock_started_at", "respond_by")
    } | {"after_hours": ticket["after_hours"], "id": ticket["id"]}


@pytest.mark.parametrize("severity", ["SL2", "SL1"])  # Severity 3 on the Eastern policy
async def test_severity_3_friday_19_30_is_due_sunday_19_30(
    db, eastern_customer, client_as, severity
):
    friday = datetime(2027, 1, 15, 19, 30, tzinfo=NY)
    ticket = await _open(client_as, eastern_customer, severity, friday)
    assert ticket["clock_started_at"] == friday
    assert ticket["respond_by"] == datetime(2027, 1, 17, 19, 30, tzinfo=NY)


async def test_severity_2_after_hours_starts_its_clock_at_the_next_opening(
    db, eastern_customer, client_as, paging
):
    tuesday_night = datetime(2027, 1, 12, 22, 15, tzinfo=NY)
    ticket = await _open(client_as, eastern_customer, "SL3", tuesday_night)
    assert ticket["clock_started_at"] == datetime(2027, 1, 13, 8, 0, tzinfo=NY)
    # 4 business hours from 08:00.
    assert ticket["respond_by"] == datetime(2027, 1, 13, 12, 0, tzinfo=NY)
    assert ticket["after_hours"] is False
    assert await db.scalar(select(OutboxMessage).where(OutboxMessage.channel == "webhook")) is None


async def test_severity_3_on_a_saturday_waits_for_monday_then_runs_48_wall_hours(
    db, eastern_customer, client_as
):
    saturday = datetime(2027, 1, 9, 11, 0, tzinfo=NY)
    ticket = await _open(client_as, eastern_customer, "SL2", saturday)
    assert ticket["clock_started_at"] == datetime(2027, 1, 11, 8, 0, tzinfo=NY)
    assert ticket["respond_by"] == datetime(2027, 1, 13, 8, 0, tzinfo=NY)


async def test_severity_1_after_hours_starts_at_once_and_pages_on_call(
    db, eastern_customer, client_as, paging
):
    sunday_night = datetime(2027, 1, 10, 23, 0, tzinfo=NY)
    ticket = await _open(client_as, eastern_customer, "SL4", sunday_night)
    assert ticket["clock_started_at"] == sunday_night
    assert ticket["respond_by"] == sunday_night + timedelta(hours=2)
    assert ticket["after_hours"] is True
    topics = sorted(
        await db.scalars(select(OutboxMessage.topic).where(OutboxMessage.channel == "webhook"))
    )
    # An SL4 pages, and so does a ticket on the after-hours line: two events, two pages.
    assert topics == ["oncall_after_hours_ticket", "oncall_sl4_ticket"]


async def test_an_sl4_by_email_is_due_in_10_minutes_on_the_default_policy(
    db, make_customer, client_as
):
    customer = await make_customer()
    at = datetime(2027, 1, 12, 9, 0, tzinfo=NY)
    ticket = await _open(client_as, customer, "SL4", at, channel="email")
    assert ticket["respond_by"] == at + timedelta(minutes=10)
