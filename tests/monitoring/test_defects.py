"""Tier 3's defect and enhancement list: a ticket waits on a defect (awaiting_patch, its
resolution clock stopped) until the fix is released, which resolves every ticket waiting on
it; a later problem opened as related links both tickets."""

from datetime import UTC, datetime, timedelta

import time_machine

from bridgedesk.identity import Role

T = datetime(2027, 1, 12, 9, 0, tzinfo=UTC)


def _ticket(customer_id: int, **extra: object) -> dict[str, object]:
    return {
        "customer_id": customer_id,
        "severity": "SL2",
        "summary": "Slides freeze after 30 minutes",
        "description": "Content sharing stops.",
        "channel": "web",
        **extra,
    }


async def test_a_released_fix_resolves_the_tickets_waiting_on_it(db, make_customer, client_as):
    customer = await make_customer()
    with time_machine.travel(T, tick=False) as clock:
        desk = await client_as(Role.TECHNICIAN)
        defect = (
            await desk.post(
                "/api/v1/defects",
                json={"title": "Slides freeze", "description": "H.239 stream stops at 30 min."},
            )
        ).json()
        waiting = []
        for _ in range(2):
            ticket = (await desk.post("/api/v1/tickets", json=_ticket(customer.id))).json()
            parked = await desk.post(
                f"/api/v1/tickets/{ticket['id']}/await-patch", json={"defect_id": defect["id"]}
            )
            assert parked.status_code == 200, parked.text
            assert parked.json()["status"] == "awaiting_patch"
            assert parked.json()["resolve_by"] is None  # resolved by the next patch
            waiting.append(ticket["id"])
        other = (await desk.post("/api/v1/tickets", json=_ticket(customer.id))).json()
        listed = (await desk.get(f"/api/v1/defects/{defect['id']}")).json()
        assert listed["ticket_ids"] == waiting and listed["status"] == "open"
        clock.shift(timedelta(days=20))
        desk = await client_as(Role.TECHNICIAN)  # a new day's sign-in
        released = await desk.post(
            f"/api/v1/defects/{defect['id']}/release", json={"release": "4.2.1"}
        )
        assert released.status_code == 200, released.text
        assert released.json()["status"] == "released"
        for ticket_id in waiting:
            done = (await desk.get(f"/api/v1/tickets/{ticket_id}")).json()
            assert (done["status"], done["closure_reason"]) == ("resolved", "patch_provided")
            assert done["timeline"][-1]["note"] == "Fixed in 4.2.1"
        untouched = (await desk.get(f"/api/v1/tickets/{other['id']}")).json()
        assert untouched["status"] == "open"
        again = await desk.post(
            f"/api/v1/defects/{defect['id']}/release", json={"release": "4.2.2"}
        )
        assert again.status_code == 409


async def test_a_related_ticket_links_to_the_earlier_one(db, make_customer, client_as):
    customer = await make_customer()
    desk = await client_as(Role.OPERATOR)
    earlier = (await desk.post("/api/v1/tickets", json=_ticket(customer.id))).json()
    await desk.post(
        f"/api/v1/tickets/{earlier['id']}/resolve",
        json={"closure_reason": "solved_without_code_change"},
    )
    later = await desk.post(
        "/api/v1/tickets", json=_ticket(customer.id, related_ticket_id=earlier["id"])
    )
    assert later.status_code == 201, later.text
    assert later.json()["related_ticket_id"] == earlier["id"]
    events = (await desk.get(f"/api/v1/tickets/{earlier['id']}")).json()["timeline"]
    # A timeline's data is text (typed `dict[str, str]`), the id included.
    assert events[-1]["kind"] == "related" and events[-1]["data"] == {
        "ticket_id": str(later.json()["id"])
    }
    # Another customer's ticket cannot be named as related.
    stranger = await make_customer()
    refused = await desk.post(
        "/api/v1/tickets", json=_ticket(stranger.id, related_ticket_id=earlier["id"])
    )
    assert refused.status_code == 422
