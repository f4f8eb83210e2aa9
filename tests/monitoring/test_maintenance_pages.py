"""The maintenance page's forms: "check" shows the verdict without saving, scheduling saves
and notifies, a window is moved and cancelled from its row, an outage is recorded with force
majeure, bad input comes back inline with the input kept; other roles are refused."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bridgedesk.clock import utcnow
from bridgedesk.identity import Role
from monitoring.models import MaintenanceWindow, Outage
from tests.reservations.browsing import csrf_of


def _local(days: float) -> str:
    return (utcnow() + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M")


async def _windows(db) -> int:
    return int(await db.scalar(select(func.count(MaintenanceWindow.id))) or 0)


async def test_an_operator_checks_schedules_moves_and_cancels_a_window(db, make_user, sign_in):
    browser = await sign_in(await make_user(Role.OPERATOR))
    page = await browser.get("/maintenance")
    form = {"component": "bridge", "start": _local(1), "end": _local(1.1), "reason": "Upgrade"}
    form["csrf_token"] = csrf_of(page)
    before = await _windows(db)
    checked = await browser.post("/maintenance", data={**form, "action": "check"})
    assert checked.status_code == 200
    assert "Short notice" in checked.text and 'value="Upgrade"' in checked.text
    assert await _windows(db) == before  # a check saves nothing
    done = await browser.post("/maintenance", data={**form, "action": "schedule"})
    assert done.status_code == 303 and done.headers["location"] == "/maintenance?done=scheduled"
    window = await db.scalar(select(MaintenanceWindow).where(MaintenanceWindow.reason == "Upgrade"))
    assert window is not None

    moved = await browser.post(
        f"/maintenance/{window.id}/move",
        data={"start": _local(5), "end": _local(5.1), "csrf_token": form["csrf_token"]},
    )
    assert moved.headers["location"] == "/maintenance?done=moved"
    await db.refresh(window)
    assert window.starts_at > utcnow() + timedelta(days=4)
    cancelled = await browser.post(
        f"/maintenance/{window.id}/cancel", data={"csrf_token": form["csrf_token"]}
    )
    assert cancelled.headers["location"] == "/maintenance?done=cancelled"
    await db.refresh(window)
    assert window.cancelled_at is not None
    again = await browser.post(
        f"/maintenance/{window.id}/cancel", data={"csrf_token": form["csrf_token"]}
    )
    assert again.status_code == 422 and "already cancelled" in again.text


async def test_an_outage_is_recorded_by_hand_and_a_future_end_is_refused_inline(
    db, make_user, sign_in
):
    browser = await sign_in(await make_user(Role.ADMIN))
    page = await browser.get("/maintenance")
    form = {
        "component": "reservations",
        "start": _local(-1),
        "end": _local(-0.99),
        "note": "Storm",
        "force_majeure": "yes",
        "csrf_token": csrf_of(page),
    }
    done = await browser.post("/outages/record", data=form)
    assert done.status_code == 303
    outage = await db.scalar(select(Outage).where(Outage.note == "Storm"))
    assert outage is not None and outage.force_majeure and outage.source == "manual"
    refused = await browser.post("/outages/record", data={**form, "end": _local(1)})
    assert refused.status_code == 422
    assert "must not be in the future" in refused.text and 'value="Storm"' in refused.text


@pytest.mark.parametrize("role", [Role.TECHNICIAN, Role.FINANCE, Role.SCHEDULER, Role.BILLING])
async def test_other_roles_can_neither_schedule_nor_record(db, make_user, sign_in, role):
    browser = await sign_in(await make_user(role))
    csrf = csrf_of(await browser.get("/account"))
    before = await _windows(db)
    form = {"component": "bridge", "start": _local(3), "end": _local(3.1), "reason": "x"}
    assert (
        await browser.post("/maintenance", data={**form, "csrf_token": csrf})
    ).status_code == 403
    outage = {"component": "bridge", "start": _local(-1), "end": _local(-0.9), "csrf_token": csrf}
    assert (await browser.post("/outages/record", data=outage)).status_code == 403
    preview = await browser.get("/maintenance/preview", params={"start": _local(1)})
    assert preview.status_code == 403
    assert await _windows(db) == before
