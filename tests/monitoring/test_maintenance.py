"""Maintenance windows: create, move and cancel each email every customer's contacts (over
real SMTP); the notice rule; refused requests change nothing."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from bridgedesk.app.jobs import send_outbox_job
from bridgedesk.db import create_engine_for
from bridgedesk.identity import Actor, Role
from monitoring.models import MaintenanceNotice, MaintenanceWindow
from monitoring.service import maintenance
from tests.conftest import create_pg_database, drop_pg_database

NOW = datetime(2027, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request):
    return str(request.param)


@pytest.fixture(autouse=True)
def frozen_time():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def iso(value: datetime) -> str:
    return value.isoformat()


async def _customers(make_customer):
    acme = await make_customer(
        name="Acme",
        timezone="America/New_York",
        billing_emails=["ap@acme.example", "cfo@acme.example"],
        primary_contact={"name": "Ann", "email": "ann@acme.example"},
    )
    kiri = await make_customer(
        name="Kiribati Shipping",
        timezone="Pacific/Kiritimati",
        billing_emails=["finance@kiri.example"],
        primary_contact={"name": "Tei", "email": "tei@kiri.example"},
    )
    return acme, kiri


def _by_recipients(mailbox, fragment):
    return {tuple(sorted(to)): message for to, message in mailbox.with_subject(fragment)}


async def test_create_move_and_cancel_each_tell_every_customer(
    db, make_customer, client_as, smtp_server
):
    await _customers(make_customer)
    operator = await client_as(Role.OPERATOR)
    start = NOW + timedelta(days=5)
    created = await operator.post(
        "/api/v1/maintenance-windows",
        json={
            "component": "bridge",
            "start": iso(start),
            "end": iso(start + timedelta(hours=2)),
            "reason": "Bridge firmware 9.2",
        },
    )
    assert created.status_code == 201, created.text
    window = created.json()
    assert window["notified_at"] == "2027-06-01T12:00:00Z"
    assert [n["kind"] for n in window["notices"]] == ["created"]
    assert window["notices"][0]["recipients"] == 2
    assert await send_outbox_job() == 2

    mails = _by_recipients(smtp_server.mailbox, "Scheduled maintenance")
    acme_to = ("ann@acme.example", "ap@acme.example", "cfo@acme.example")
    kiri_to = ("finance@kiri.example", "tei@kiri.example")
    assert set(mails) == {acme_to, kiri_to}  # one message per customer, never mixed
    acme_body = mails[acme_to].get_content()
    assert "Bridge firmware 9.2" in acme_body
    # 2027-06-06 12:00 UTC is 08:00 in New York and 02:00 next day in Kiritimati.
    assert "2027-06-06 08:00 EDT" in acme_body
    assert "2027-06-07 02:00 +14" in mails[kiri_to].get_content()

    # Move it: everyone hears again, with the old and the new times; the notice clock resets.
    with time_machine.travel(NOW + timedelta(hours=1), tick=False):
        moved = await operator.patch(
            f"/api/v1/maintenance-windows/{window['id']}",
            json={
                "start": iso(start + timedelta(days=1)),
                "end": iso(start + timedelta(days=1, hours=3)),
            },
        )
        assert moved.status_code == 200, moved.text
        assert moved.json()["notified_at"] == "2027-06-01T13:00:00Z"
        assert await send_outbox_job() == 2
    mails = _by_recipients(smtp_server.mailbox, "Maintenance changed")
    assert set(mails) == {acme_to, kiri_to}
    body = mails[acme_to].get_content()
    assert "Was:     2027-06-06 08:00 EDT to 2027-06-06 10:00 EDT" in body
    assert "Now:     2027-06-07 08:00 EDT to 2027-06-07 11:00 EDT" in body

    with time_machine.travel(NOW + timedelta(hours=2), tick=False):
        cancelled = await operator.delete(f"/api/v1/maintenance-windows/{window['id']}")
        assert await send_outbox_job() == 2
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["cancelled_at"] is not None
    assert [n["kind"] for n in cancelled.json()["notices"]] == ["created", "moved", "cancelled"]
    mails = _by_recipients(smtp_server.mailbox, "Maintenance cancelled")
    assert set(mails) == {acme_to, kiri_to}
    assert "2027-06-07 08:00 EDT" in mails[acme_to].get_content()
    assert len(smtp_server.mailbox.received) == 6


async def test_a_window_moved_inside_the_notice_period_counts_as_downtime(
    db, make_customer, client_as
):
    await _customers(make_customer)
    operator = await client_as(Role.OPERATOR)
    start = NOW + timedelta(days=3)
    window = (
        await operator.post(
            "/api/v1/maintenance-windows",
            json={
                "component": "reservations",
                "start": iso(start),
                "end": iso(start + timedelta(hours=1)),
                "reason": "DB upgrade",
            },
        )
    ).json()
    month = "2027-06"
    with time_machine.travel(NOW + timedelta(days=20), tick=False):
        reader = await client_as(Role.OPERATOR)
        report = (await reader.get(f"/api/v1/uptime?month={month}&component=reservations")).json()
    assert report["excluded_minutes"] == 60 and report["downtime_minutes"] == 0
    # Two days later the window is moved a day earlier: told 24 h ahead, not 48 h.
    with time_machine.travel(NOW + timedelta(days=1), tick=False):
        operator = await client_as(Role.OPERATOR)
        response = await operator.patch(
            f"/api/v1/maintenance-windows/{window['id']}",
            json={
                "start": iso(start - timedelta(days=1)),
                "end": iso(start - timedelta(days=1) + timedelta(hours=1)),
            },
        )
        assert response.status_code == 200
    with time_machine.travel(NOW + timedelta(days=20), tick=False):
        reader = await client_as(Role.OPERATOR)
        report = (await reader.get(f"/api/v1/uptime?month={month}&component=reservations")).json()
    assert report["excluded_minutes"] == 0 and report["downtime_minutes"] == 60
    (listed,) = [i for i in report["intervals"] if i["kind"] == "maintenance"]
    assert listed["counted_as"] == "downtime" and listed["notice_ok"] is False
    assert listed["notified_at"] == "2027-06-02T12:00:00Z"


async def _rows(db) -> tuple[int, int]:
    return (
        await db.scalar(select(func.count(MaintenanceWindow.id))),
        await db.scalar(select(func.count(MaintenanceNotice.id))),
    )


@pytest.mark.parametrize(
    "role, body, status",
    [
        (Role.OPERATOR, {"notified_at": "2027-05-20T00:00:00+00:00"}, 403),
        (Role.ADMIN, {"notified_at": "2027-06-02T00:00:00+00:00"}, 422),
        (Role.ADMIN, {"end": "2027-06-04T00:00:00+00:00"}, 422),
        (Role.ADMIN, {"start": "2027-06-05T00:00:00"}, 422),  # naive
        (Role.ADMIN, {"component": "billing"}, 422),
        (Role.ADMIN, {"reason": ""}, 422),
        (Role.SCHEDULER, {}, 403),
    ],
)
async def test_refused_windows_change_nothing(db, make_customer, client_as, role, body, status):
    await _customers(make_customer)
    caller = await client_as(role)
    before = await _rows(db)
    payload = {
        "component": "bridge",
        "start": "2027-06-05T00:00:00+00:00",
        "end": "2027-06-05T02:00:00+00:00",
        "reason": "Work",
        **body,
    }
    response = await caller.post("/api/v1/maintenance-windows", json=payload)
    assert response.status_code == status, response.text
    assert response.json()["detail"]
    assert await _rows(db) == before


async def test_an_admin_records_a_notice_already_sent_without_mailing_again(
    db, make_customer, client_as, smtp_server
):
    await _customers(make_customer)
    admin = await client_as(Role.ADMIN)
    response = await admin.post(
        "/api/v1/maintenance-windows",
        json={
            "component": "bridge",
            "start": "2027-06-02T00:00:00+00:00",
            "end": "2027-06-02T02:00:00+00:00",
            "reason": "Announced by letter",
            "notified_at": "2027-05-25T09:00:00+00:00",
        },
    )
    assert response.status_code == 201, response.text
    assert response.json()["notified_at"] == "2027-05-25T09:00:00Z"
    assert [n["kind"] for n in response.json()["notices"]] == ["recorded"]
    assert await send_outbox_job() == 0
    with time_machine.travel(datetime(2027, 7, 2, tzinfo=UTC), tick=False):
        reader = await client_as(Role.SCHEDULER)  # customers see the month's figures too
        report = (await reader.get("/api/v1/uptime?month=2027-06&component=bridge")).json()
    assert report["excluded_minutes"] == 120


async def test_a_started_window_cannot_be_cancelled(db, make_customer, client_as):
    operator = await client_as(Role.OPERATOR)
    created = await operator.post(
        "/api/v1/maintenance-windows",
        json={
            "component": "bridge",
            "start": iso(NOW + timedelta(hours=1)),
            "end": iso(NOW + timedelta(hours=3)),
            "reason": "x",
        },
    )
    with time_machine.travel(NOW + timedelta(hours=2), tick=False):
        response = await operator.delete(f"/api/v1/maintenance-windows/{created.json()['id']}")
    assert response.status_code == 409
    assert response.json()["detail"]


async def test_an_empty_change_is_refused(db, client_as):
    operator = await client_as(Role.OPERATOR)
    created = await operator.post(
        "/api/v1/maintenance-windows",
        json={
            "component": "bridge",
            "start": iso(NOW + timedelta(days=3)),
            "end": iso(NOW + timedelta(days=3, hours=1)),
            "reason": "x",
        },
    )
    before = await _rows(db)
    response = await operator.patch(f"/api/v1/maintenance-windows/{created.json()['id']}", json={})
    assert response.status_code == 422 and response.json()["detail"]
    assert await _rows(db) == before


@pytest.mark.postgres
async def test_a_move_arriving_during_a_cancel_waits_and_is_refused():
    url = create_pg_database("bridgedesk_window_race")
    engine = create_engine_for(url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    admin = Actor(user_id=1, role=Role.ADMIN, name="Admin", email="admin@example.com")
    try:
        async with sessions() as session, session.begin():
            window = await maintenance.create_window(
                session,
                maintenance.WindowData(
                    "bridge", NOW + timedelta(days=5), NOW + timedelta(days=5, hours=1), "Work"
                ),
                by=admin,
            )
        cancelling = asyncio.Event()

        async def cancel() -> str:
            async with sessions() as session, session.begin():
                await maintenance.cancel_window(session, window.id, by=admin)
                cancelling.set()
                await asyncio.sleep(0.3)  # the move arrives while this holds the row
            return "cancelled"

        async def move() -> str:
            await cancelling.wait()
            try:
                async with sessions() as session, session.begin():
                    await maintenance.move_window(
                        session,
                        window.id,
                        start=NOW + timedelta(days=6),
                        end=NOW + timedelta(days=6, hours=1),
                        reason=None,
                        by=admin,
                    )
            except maintenance.WindowClosed:
                return "refused"
            return "moved"

        assert await asyncio.gather(cancel(), move()) == ["cancelled", "refused"]
        async with sessions() as session:
            kinds = [n.kind for n in await maintenance.notices(session, window.id)]
            stored = await maintenance.get_window(session, window.id)
        assert kinds == ["created", "cancelled"]
        assert stored.starts_at == NOW + timedelta(days=5)
    finally:
        await engine.dispose()
        drop_pg_database(url)
