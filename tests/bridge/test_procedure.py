"""The problem-call procedure: a site not back within the window opens the seed's ordered
steps; the contact-chain emails are its first attempts; the desk records each call's outcome
through the API."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from bridge.models import ProcedureStep
from bridge.service import procedure
from bridge.service.leg_states import LegState
from bridgedesk.identity import Role
from reservations.models import Site
from tests.bridge.calls import end, legs_of
from tests.bridge.launches import T0, launched_and_connected, run
from tests.reservations.browsing import csrf_of

pytestmark = pytest.mark.usefixtures("recovery_settings")
DROPPED_AT = T0 + timedelta(minutes=10)


async def _site_past_its_window(db, conference) -> int:
    """The Boardroom drops at T0+10 min and is still down 5 minutes later: its incident id."""
    lab = await db.scalar(select(Site).where(Site.name == "Lab"))
    lab.contacts = [{"name": "Lou Lab", "phone": "+1 555 0100"}]
    await db.flush()
    board, _lab = await launched_and_connected(db, conference)
    await end(db, board, DROPPED_AT, "no_media")
    await run(DROPPED_AT + timedelta(seconds=1))
    board, _lab = await legs_of(db, conference.id)
    assert board.incident_id is not None
    # Within the window there is no procedure yet: the bridge is still redialing.
    assert await procedure.procedures_for(db, [board.incident_id]) == {}
    await run(DROPPED_AT + timedelta(seconds=300))
    board, _lab, _audio = await legs_of(db, conference.id)
    assert board.state == LegState.AUDIO_FALLBACK
    return board.incident_id


async def test_a_site_with_two_technical_contacts_gets_the_seeds_steps_in_order(
    db,
    conference,
    client_as,
):
    incident_id = await _site_past_its_window(db, conference)
    operator = await client_as(Role.OPERATOR, name="Olga Operator")

    answer = await operator.get(f"/api/v1/incidents/{incident_id}/procedure")

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [(s["position"], s["kind"], s["contact_name"]) for s in body["steps"]] == [
        (1, "site_contact", "Tess Tech"),
        (2, "site_contact", "Nick Night"),
        (3, "scheduler", "Sam"),
        (4, "troubled_room", "Boardroom"),
        (5, "connected_room", "Lab"),
        (6, "other_site_contact", "Lou Lab"),
        (7, "primary_contact", "Pat Primary"),
    ]
    steps = body["steps"]
    assert steps[1]["phone"] == "+1 555"
    assert steps[3]["phone"] == "sip:board@127.0.0.1"  # the room itself is called
    # The chain's emails went out at the window and are the steps' first (automatic) attempts.
    automatic = {
        s["position"]: [(a["outcome"], a["made_by"], a["automatic"]) for a in s["attempts"]]
        for s in steps
        if s["attempts"]
    }
    assert automatic == {
        1: [("emailed", "automatic", True)],
        2: [("emailed", "automatic", True)],
        3: [("emailed", "automatic", True)],
        7: [("emailed", "automatic", True)],
    }
    # An email alone is not a call: the desk starts at the first step.
    assert (body["current"], body["reached"]) == (1, False)


async def test_each_call_is_recorded_with_its_outcome_and_who_made_it(
    db,
    conference,
    client_as,
):
    incident_id = await _site_past_its_window(db, conference)
    operator = await client_as(Role.OPERATOR, name="Olga Operator")
    base = f"/api/v1/incidents/{incident_id}/procedure/steps"

    for position, outcome in (
        (1, "voicemail_left"),
        (1, "receptionist_paged"),
        (2, "pager"),
        (2, "mobile"),
    ):
        answer = await operator.post(f"{base}/{position}/attempts", json={"outcome": outcome})
        assert answer.status_code == 201, answer.text
    assert answer.json()["current"] == 3
    reached = await operator.post(
        f"{base}/3/attempts", json={"outcome": "reached", "note": "Sam walks to the room"}
    )

    body = reached.json()
    assert (body["current"], body["reached"]) == (None, True)
    manual = [
        (s["position"], a["outcome"], a["made_by"], a["note"])
        for s in body["steps"]
        for a in s["attempts"]
        if not a["automatic"]
    ]
    assert manual == [
        (1, "voicemail_left", "Olga Operator", ""),
        (1, "receptionist_paged", "Olga Operator", ""),
        (2, "pager", "Olga Operator", ""),
        (2, "mobile", "Olga Operator", ""),
        (3, "reached", "Olga Operator", "Sam walks to the room"),
    ]


async def test_a_wrong_outcome_step_or_incident_is_refused(
    db,
    conference,
    client_as,
):
    incident_id = await _site_past_its_window(db, conference)
    operator = await client_as(Role.OPERATOR)
    base = f"/api/v1/incidents/{incident_id}/procedure"
    assert (
        await operator.post(f"{base}/steps/1/attempts", json={"outcome": "gone"})
    ).status_code == 422
    assert (
        await operator.post(f"{base}/steps/99/attempts", json={"outcome": "reached"})
    ).status_code == 404
    missing = await operator.get(f"/api/v1/incidents/{incident_id + 1000}/procedure")
    assert missing.status_code == 404


async def test_opening_twice_writes_the_steps_once(db, conference):
    incident_id = await _site_past_its_window(db, conference)
    await run(DROPPED_AT + timedelta(seconds=301))
    await run(DROPPED_AT + timedelta(seconds=302))
    steps = (
        await db.scalars(select(ProcedureStep).where(ProcedureStep.incident_id == incident_id))
    ).all()
    assert len(steps) == 7


@pytest.mark.parametrize("contacts", [0, 1, 3])
def test_the_plan_keeps_the_chain_indexes_of_drop_recovery(contacts):
    from bridge.service.bookings import ConferenceRef, Contact, SiteRef
    from bridge.service.escalation import contact_chain

    people = tuple(Contact(f"Tech {i}", f"t{i}@x.example") for i in range(contacts))
    site = SiteRef(1, 1, "Room", "sip:room@127.0.0.1", None, 768, people)
    booked = ConferenceRef(
        1,
        "C-1",
        1,
        "t",
        "live",
        T0,
        T0,
        None,
        False,
        False,
        (),
        Contact("Sam", "sam@x.example"),
        Contact("Pat", "pat@x.example"),
    )
    chain = contact_chain(site, booked)
    planned = procedure.plan_steps(site, booked, [], [])
    by_index = {s.chain_index: s.contact for s in planned if s.chain_index is not None}
    assert [by_index[i] for i in range(len(chain))] == chain


async def test_the_live_panel_shows_the_checklist_and_a_click_records_the_outcome(
    db,
    conference,
    sign_in,
    make_user,
):
    incident_id = await _site_past_its_window(db, conference)
    page = await sign_in(await make_user(Role.TECHNICIAN, name="Tina Tech"))

    live = await page.get("/live")
    assert live.status_code == 200
    assert f'data-incident="{incident_id}"' in live.text
    assert live.text.count('data-testid="procedure-step"') == 7
    assert "Emailed (automatic): email to tess@customer.example" in live.text

    clicked = await page.post(
        f"/live/incidents/{incident_id}/procedure/steps/2",
        data={"outcome": "voicemail_left", "csrf_token": csrf_of(live)},
    )

    assert clicked.status_code == 303
    assert clicked.headers["location"] == f"/live#procedure-{incident_id}"
    view = await procedure.get_procedure(db, incident_id)
    assert [(a.outcome, a.made_by) for a in view.steps[1].attempts if not a.automatic] == [
        ("voicemail_left", "Tina Tech")
    ]
    refused = await page.post(
        f"/live/incidents/{incident_id}/procedure/steps/2",
        data={"outcome": "emailed", "csrf_token": csrf_of(live)},
    )
    assert refused.status_code == 422
