"""The "Add site" form checks what the API checks (schema, tenancy, dial policy, unique
name), keeps the input on a refusal, and names the site it added."""

from sqlalchemy import select

from bridgedesk.identity import Role
from reservations.models import Site
from tests.reservations.browsing import csrf_of


def _form(customer_id: int, **overrides: str) -> dict[str, str]:
    return {
        "customer_id": str(customer_id),
        "name": "Harbour Room",
        "kind": "room",
        "timezone": "Pacific/Kiritimati",
        "sip_uri": "sip:harbour@127.0.0.1",
        "audio_uri": "",
        "max_speed_kbps": "768",
        "billing_zone": "PACIFIC",
        **overrides,
    }


async def test_a_scheduler_adds_a_site_of_their_customer(db, make_customer, make_user, sign_in):
    customer = await make_customer()
    browser = await sign_in(await make_user(Role.SCHEDULER, customer_id=customer.id))
    page = await browser.get("/sites/new")
    assert page.status_code == 200
    done = await browser.post(
        "/sites/new", data={**_form(customer.id), "csrf_token": csrf_of(page)}
    )
    assert done.status_code == 303
    site = await db.scalar(select(Site).where(Site.name == "Harbour Room"))
    assert site is not None and site.customer_id == customer.id
    assert site.certification_state == "registered"
    shown = await browser.get(done.headers["location"])
    assert "Harbour Room was added" in shown.text
    # The same name again is the API's 409, shown inline.
    again = await browser.post(
        "/sites/new", data={**_form(customer.id), "csrf_token": csrf_of(page)}
    )
    assert again.status_code == 422 and "already has a site named" in again.text


async def test_a_bad_site_is_refused_inline_with_its_input_kept(
    db, make_customer, make_user, sign_in
):
    customer = await make_customer()
    browser = await sign_in(await make_user(Role.SCHEDULER, customer_id=customer.id))
    page = await browser.get("/sites/new")
    bad = _form(customer.id, timezone="Mars/Olympus", sip_uri="not a uri")
    refused = await browser.post("/sites/new", data={**bad, "csrf_token": csrf_of(page)})
    assert refused.status_code == 422
    assert "Time zone: unknown IANA time zone" in refused.text
    assert "SIP address:" in refused.text
    assert 'value="Mars/Olympus"' in refused.text
    assert await db.scalar(select(Site).where(Site.name == "Harbour Room")) is None


async def test_a_scheduler_cannot_add_a_site_to_another_customer(
    db, make_customer, make_user, sign_in
):
    own, other = await make_customer(), await make_customer()
    browser = await sign_in(await make_user(Role.SCHEDULER, customer_id=own.id))
    page = await browser.get("/sites/new")
    refused = await browser.post(
        "/sites/new", data={**_form(other.id), "csrf_token": csrf_of(page)}
    )
    assert refused.status_code == 422
    assert await db.scalar(select(Site).where(Site.customer_id == other.id)) is None
