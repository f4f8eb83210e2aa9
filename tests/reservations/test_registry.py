"""The registry's one site shape (`registry.SiteView`): the registry's and certification's
endpoints answer a site alike, and a contact shows only the fields it was given."""

from bridgedesk.identity import Role
from tests.reservations.test_registry_addresses import site_body


async def test_every_endpoint_answers_a_site_in_one_shape(make_customer, client_as):
    customer = await make_customer()
    scheduler = await client_as(Role.SCHEDULER, customer_id=customer.id)
    created = await scheduler.post("/api/v1/sites", json=site_body(customer.id))
    assert created.status_code == 201, created.text
    site = created.json()
    assert site["contacts"] == [{"name": "Tess Tech", "email": "tess@customer.example"}]

    listed = await scheduler.get(f"/api/v1/sites?customer_id={customer.id}")
    fetched = await scheduler.get(f"/api/v1/sites/{site['id']}")
    patched = await scheduler.patch(
        f"/api/v1/sites/{site['id']}", json={"contacts": [{"name": "Ola", "pager": "4711"}]}
    )
    assert listed.json() == [site] and fetched.json() == site
    assert patched.status_code == 200, patched.text
    assert patched.json() == {**site, "contacts": [{"name": "Ola", "pager": "4711"}]}


async def test_a_customer_contact_shows_only_its_fields(client_as):
    admin = await client_as(Role.ADMIN)
    created = await admin.post(
        "/api/v1/customers",
        json={"name": "Acme", "timezone": "UTC", "primary_contact": {"name": "Ann"}},
    )
    assert created.status_code == 201, created.text
    assert created.json()["primary_contact"] == {"name": "Ann"}
