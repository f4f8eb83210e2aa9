"""The help desk's pages: a scheduler opens a ticket on the web, the desk works it through
its forms (CSRF on each), the customer reopens it; other customers see nothing of it."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from bridgedesk.identity import Role

T = datetime(2027, 1, 12, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_time():
    with time_machine.travel(T, tick=False) as traveller:
        yield traveller


def csrf(page) -> str:
    found = re.search(r'name="csrf[_-]token" (?:value|content)="([^"]+)"', page.text)
    assert found
    return found.group(1)


async def post_new_ticket(client, customer_id: int, **fields: str):
    """The new-ticket form filled in and sent with its page's CSRF token."""
    form = await client.get("/tickets/new")
    data = {
        "csrf_token": csrf(form),
        "customer_id": str(customer_id),
        "severity": "SL1",
        "channel": "web",
        "summary": "x",
        "description": "y",
        **fields,
    }
    return await client.post("/tickets/new", data=data)


async def test_a_ticket_from_the_web_form_to_resolution(
    db, make_customer, make_user, sign_in, frozen_time
):
    customer = await make_customer(name="Acme")
    scheduler = await sign_in(await make_user(Role.SCHEDULER, customer_id=customer.id))
    form = await scheduler.get("/tickets/new")
    assert form.status_code == 200 and "Acme" in form.text
    opened = await scheduler.post(
        "/tickets/new",
        data={
            "csrf_token": csrf(form),
            "customer_id": str(customer.id),
            "severity": "SL4",
            "channel": "phone",
            "summary": "Board meeting cannot connect",
            "description": "Every site gets 'bridge unreachable'.",
            "caller_account": "ACME-0042",
        },
    )
    assert opened.status_code == 303
    url = opened.headers["location"]
    page = await scheduler.get(url)
    assert "Board meeting cannot connect" in page.text
    assert "2027-01-12 09:10 UTC" in page.text  # SL4: answered within 10 minutes
    assert 'data-testid="actions"' not in page.text  # the customer cannot work it

    desk = await sign_in(await make_user(Role.TECHNICIAN))
    page = await desk.get(url)
    frozen_time.shift(timedelta(minutes=4))
    for action, data in (
        ("respond", {"note": "Looking", "severity": "SL4"}),
        ("wait", {}),
        ("resume", {}),
        ("escalate", {}),
        ("update", {"note": "Firmware fix in test"}),
        ("resolve", {"closure_reason": "patch_provided"}),
    ):
        done = await desk.post(f"{url}/{action}", data={"csrf_token": csrf(page), **data})
        assert done.status_code == 303, (action, done.text)
        page = await desk.get(url)
    kinds = re.findall(r'<li data-kind="(\w+)"', page.text)
    assert kinds == [
        "opened",
        "responded",
        "waiting",
        "resumed",
        "escalated",
        "updated",
        "resolved",
    ]
    assert "tier 2" in page.text and "patch provided" in page.text

    page = await scheduler.get(url)
    reopened = await scheduler.post(f"{url}/reopen", data={"csrf_token": csrf(page), "note": "no"})
    assert reopened.status_code == 303
    listed = await scheduler.get("/tickets?status=responded")
    assert url.rsplit("/", 1)[1] in re.findall(r'data-ticket="(\d+)"', listed.text)

    outsider = await sign_in(await make_user(Role.SCHEDULER))
    assert (await outsider.get(url)).status_code == 404
    assert 'data-ticket="' not in (await outsider.get("/tickets")).text


async def test_forms_need_their_csrf_token_and_the_right_role(
    db, make_customer, make_user, sign_in
):
    customer = await make_customer()
    scheduler = await sign_in(await make_user(Role.SCHEDULER, customer_id=customer.id))
    refused = await scheduler.post(
        "/tickets/new",
        data={
            "customer_id": str(customer.id),
            "severity": "SL1",
            "channel": "web",
            "summary": "x",
            "description": "y",
        },
    )
    assert refused.status_code == 403
    opened = await post_new_ticket(scheduler, customer.id)
    url = opened.headers["location"]
    page = await scheduler.get(url)
    responded = await scheduler.post(f"{url}/respond", data={"csrf_token": csrf(page)})
    assert responded.status_code == 403
    assert (
        await scheduler.post(f"{url}/explode", data={"csrf_token": csrf(page)})
    ).status_code == 404
    assert (await scheduler.get("/tickets/99999999999")).status_code == 404
    past_range = await scheduler.post(  # past even SQLite's 64-bit keys: no driver overflow
        f"/tickets/{2**64}/respond", data={"csrf_token": csrf(page)}
    )
    assert past_range.status_code == 404
    billing = await sign_in(await make_user(Role.BILLING, customer_id=customer.id))
    denied = await post_new_ticket(billing, customer.id)
    assert denied.status_code == 403


async def test_a_missed_response_clock_shows_late_on_the_list_and_the_ticket(
    db, make_customer, make_user, sign_in, frozen_time
):
    customer = await make_customer(name="Acme")
    scheduler = await sign_in(await make_user(Role.SCHEDULER, customer_id=customer.id))
    opened = await post_new_ticket(scheduler, customer.id, severity="SL4", channel="phone")
    url = opened.headers["location"]
    late = '<span class="badge overdue">late</span>'
    frozen_time.shift(timedelta(minutes=10))  # SL4: answered within 10 minutes, not yet late
    assert late not in (await scheduler.get(url)).text
    assert late not in (await scheduler.get("/tickets")).text
    frozen_time.shift(timedelta(minutes=1))
    page = await scheduler.get(url)
    assert re.search(r'data-testid="respond-by">[^<]*' + re.escape(late), page.text)
    assert late in (await scheduler.get("/tickets")).text


async def test_the_desk_works_the_queue_work_minutes_and_a_defect_on_its_pages(
    db, make_customer, make_user, client_as, sign_in
):
    customer = await make_customer()
    technician = await make_user(Role.TECHNICIAN)
    desk = await sign_in(technician)
    api = await client_as(technician)
    waiting = await api.post(
        "/api/v1/tickets",
        json={
            "customer_id": customer.id,
            "severity": "SL2",
            "summary": "Echo on every call",
            "description": "Echo.",
            "channel": "phone",
            "offered_at": (T - timedelta(seconds=40)).isoformat(),
        },
    )
    assert waiting.status_code == 201, waiting.text
    listing = await desk.get("/tickets")
    assert 'data-testid="phone-queue"' in listing.text and "Echo on every call" in listing.text
    assert 'data-testid="helpdesk-contact"' in listing.text
    taken = await desk.post("/tickets/queue/next", data={"csrf_token": csrf(listing)})
    assert taken.status_code == 303
    url = taken.headers["location"]
    assert url == f"/tickets/{waiting.json()['id']}"
    page = await desk.get(url)
    assert "waiting in the queue" not in page.text and "answered" in page.text
    worked = await desk.post(f"{url}/work", data={"csrf_token": csrf(page), "minutes": "12"})
    assert worked.status_code == 303, worked.text[-1500:]
    defects_page = await desk.get("/defects")
    added = await desk.post(
        "/defects",
        data={"csrf_token": csrf(defects_page), "title": "Echo canceller", "description": "AEC"},
    )
    assert added.status_code == 303
    page = await desk.get(url)
    assert "12 min worked" in page.text and "Wait for its patch" in page.text
    defect_id = re.search(r'<option value="(\d+)">#\d+ Echo canceller', page.text)
    assert defect_id
    parked = await desk.post(
        f"{url}/await-patch", data={"csrf_token": csrf(page), "defect_id": defect_id.group(1)}
    )
    assert parked.status_code == 303
    defects_page = await desk.get("/defects")
    assert f'href="/tickets/{waiting.json()["id"]}"' in defects_page.text
    released = await desk.post(
        f"/defects/{defect_id.group(1)}/release",
        data={"csrf_token": csrf(defects_page), "release": "9.3"},
    )
    assert released.status_code == 303
    page = await desk.get(url)
    assert 'data-testid="status">resolved' in page.text and "patch provided" in page.text
    # Customers have no defect list.
    scheduler = await sign_in(await make_user(Role.SCHEDULER, customer_id=customer.id))
    assert (await scheduler.get("/defects")).status_code == 403
