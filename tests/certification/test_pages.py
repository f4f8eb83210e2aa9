"""The technicians' pages: the queue, a site's page and its buttons, the CSV import form."""

import re
from datetime import UTC, datetime, timedelta

import time_machine
from sqlalchemy import func, select

from bridgedesk.identity import Role
from certification.models import CertificationTest
from reservations.models import Site
from tests.certification.probes import finish_probe
from tests.certification.test_api import site_body
from tests.certification.test_sites import rollout_rows, to_csv
from tests.reservations.browsing import csrf_of

REGISTERED = datetime(2027, 6, 1, 8, 0, tzinfo=UTC)


async def test_the_queue_marks_overdue_sites_and_counts_states(
    db, make_customer, make_user, client_as, sign_in
):
    customer = await make_customer()
    tech = await client_as(Role.TECHNICIAN)
    with time_machine.travel(REGISTERED, tick=False):
        late = (await tech.post("/api/v1/sites", json=site_body(customer.id, name="Late"))).json()
    with time_machine.travel(REGISTERED + timedelta(hours=20), tick=False):
        fresh = (
            await tech.post(
                "/api/v1/sites", json=site_body(customer.id, name="Fresh", kind="external")
            )
        ).json()
        browser = await sign_in(await make_user(Role.TECHNICIAN))
    with time_machine.travel(REGISTERED + timedelta(hours=25), tick=False):
        page = await browser.get("/certification")
    assert page.status_code == 200
    rows = re.findall(r'<tr class="(overdue)?" data-site="(\d+)"', page.text)
    mine = [(cls, int(i)) for cls, i in rows if int(i) in (late["id"], fresh["id"])]
    # The late room missed "register by" (+24 h); the fresh external site is due at +44 h.
    assert mine == [("overdue", late["id"]), ("", fresh["id"])]
    assert re.search(r'data-state="registered">\d+<', page.text)


async def test_a_technician_runs_a_test_call_from_the_site_page(
    db, make_customer, make_user, sign_in
):
    customer = await make_customer()
    site = await sign_in(await make_user(Role.TECHNICIAN))
    api_site = await _site(db, customer.id)
    page = await site.get(f"/certification/sites/{api_site.id}")
    assert page.status_code == 200
    assert "Run test call" in page.text and "Sign off" not in page.text

    refused = await site.post(f"/certification/sites/{api_site.id}/tests", data={})
    assert refused.status_code == 403  # no CSRF token: nothing is started
    assert await db.scalar(select(func.count(CertificationTest.id))) == 0

    started = await site.post(
        f"/certification/sites/{api_site.id}/tests", data={"csrf_token": csrf_of(page)}
    )
    assert started.status_code == 303
    waiting = await site.get(started.headers["location"])
    assert "pending…" in waiting.text and "Sign off" not in waiting.text
    assert f"/api/v1/sites/{api_site.id}/certification" in waiting.text  # the page polls
    test = await db.scalar(select(CertificationTest))
    await finish_probe(db, test.probe_id)
    done = await site.get(f"/certification/sites/{api_site.id}")
    assert "pending…" not in done.text and "passed" in done.text and "PCMU/8000" in done.text
    assert "Sign off" in done.text  # offered once the latest test call passed
    signed = await site.post(
        f"/certification/sites/{api_site.id}/sign-off", data={"csrf_token": csrf_of(done)}
    )
    assert signed.status_code == 303
    final = await site.get(f"/certification/sites/{api_site.id}")
    assert 'data-testid="certification-state">certified<' in final.text
    assert "Sign off" not in final.text


async def test_schedulers_see_their_own_site_page_without_buttons(
    db, make_customer, make_user, sign_in
):
    customer = await make_customer()
    site = await _site(db, customer.id)
    scheduler = await sign_in(await make_user(Role.SCHEDULER, customer_id=customer.id))
    page = await scheduler.get(f"/certification/sites/{site.id}")
    assert page.status_code == 200 and "History" in page.text
    assert "Run test call" not in page.text and "Sign off" not in page.text
    assert (await scheduler.get("/certification")).status_code == 403
    outsider = await sign_in(await make_user(Role.SCHEDULER))
    assert (await outsider.get(f"/certification/sites/{site.id}")).status_code == 404
    forced = await scheduler.post(
        f"/certification/sites/{site.id}/tests", data={"csrf_token": csrf_of(page)}
    )
    assert forced.status_code == 403


async def test_the_import_form_lists_bad_rows_and_imports_nothing(
    db, make_customer, make_user, sign_in
):
    customer = await make_customer()
    browser = await sign_in(await make_user(Role.OPERATOR))
    form = await browser.get("/certification/import")
    assert form.status_code == 200
    rows = rollout_rows(5)
    rows[2]["kind"] = "cupboard"
    sent = await browser.post(
        "/certification/import",
        data={"csrf_token": csrf_of(form), "customer_id": str(customer.id)},
        files={"file": ("rollout.csv", to_csv(rows), "text/csv")},
    )
    assert sent.status_code == 422
    row = "<td>4</td><td>kind</td><td>must be &#39;room&#39; or &#39;external&#39;</td>"
    assert row in sent.text
    count = select(func.count(Site.id)).where(Site.customer_id == customer.id)
    assert await db.scalar(count) == 0
    good = await browser.post(
        "/certification/import",
        data={"csrf_token": csrf_of(form), "customer_id": str(customer.id)},
        files={"file": ("rollout.csv", to_csv(rollout_rows(5)), "text/csv")},
    )
    assert good.status_code == 200 and "Imported 5 site(s)" in good.text
    assert await db.scalar(count) == 5


async def test_the_import_form_without_a_file_asks_for_one(make_customer, make_user, sign_in):
    customer = await make_customer()
    browser = await sign_in(await make_user(Role.OPERATOR))
    form = await browser.get("/certification/import")
    sent = await browser.post(
        "/certification/import",
        data={"csrf_token": csrf_of(form), "customer_id": str(customer.id), "file": "rows"},
    )
    assert sent.status_code == 422 and "Choose a CSV file." in sent.text


async def _site(db, customer_id: int) -> Site:
    site = Site(
        customer_id=customer_id,
        name="Boardroom",
        kind="room",
        timezone="UTC",
        sip_uri="sip:boardroom@127.0.0.1",
        max_speed_kbps=768,
        billing_zone="EU",
        contacts=[{"name": "Tess"}],
        certification_state="registered",
        created_at=datetime.now(UTC),
    )
    db.add(site)
    await db.flush()
    return site


async def test_a_refused_sign_off_shows_why_on_the_site_page(db, make_customer, make_user, sign_in):
    customer = await make_customer()
    site = await _site(db, customer.id)
    browser = await sign_in(await make_user(Role.TECHNICIAN))
    page = await browser.get(f"/certification/sites/{site.id}")
    refused = await browser.post(
        f"/certification/sites/{site.id}/sign-off", data={"csrf_token": csrf_of(page)}
    )
    assert refused.status_code == 409
    assert "has no test call yet" in refused.text
    assert 'data-testid="certification-state">registered<' in refused.text


async def test_contacts_completed_from_the_site_page_start_the_deadline(
    db, make_customer, make_user, sign_in
):
    customer = await make_customer()
    site = await _site(db, customer.id)
    site.contacts = []
    await db.flush()
    scheduler = await sign_in(await make_user(Role.SCHEDULER, customer_id=customer.id))
    page = await scheduler.get(f"/certification/sites/{site.id}")
    assert "information incomplete" in page.text
    form = {
        "csrf_token": csrf_of(page),
        "name": "Boardroom",
        "timezone": "Pacific/Kiritimati",
        "sip_uri": "sip:boardroom@127.0.0.1",
        "audio_uri": "sip:+686555@10.0.0.8",
        "max_speed_kbps": "768",
        "billing_zone": "PACIFIC",
        "contacts": "Tei | +686 1 | | | tei@example.com\nKai | | 555-PAGE",
    }
    bad = await scheduler.post(
        f"/certification/sites/{site.id}/details", data={**form, "timezone": "Nowhere/Land"}
    )
    assert bad.status_code == 422 and "unknown IANA time zone" in bad.text
    saved = await scheduler.post(f"/certification/sites/{site.id}/details", data=form)
    assert saved.status_code == 303, saved.text
    await db.refresh(site)
    assert site.contacts == [
        {"name": "Tei", "phone": "+686 1", "email": "tei@example.com"},
        {"name": "Kai", "pager": "555-PAGE"},
    ]
    assert (site.timezone, site.audio_uri) == ("Pacific/Kiritimati", "sip:+686555@10.0.0.8")
    shown = await scheduler.get(f"/certification/sites/{site.id}")
    assert "information incomplete" not in shown.text
    assert re.search(r"Certify by</th><td[^>]*>\d{4}-\d\d-\d\d", shown.text)
