"""The monthly service report for the demo's last month: every figure is the figure of the
package that owns it, the PDF read back names every commitment, the customer's own users
(and no other customer's) read it, and it reaches the billing contacts with the invoice."""

import io
import re
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from billing.jobs import deliver_issued_documents_job
from billing.models import Invoice
from bridgedesk import outbox
from bridgedesk.auth import actor_of
from bridgedesk.clock import utcnow
from bridgedesk.demo import load_demo
from bridgedesk.identity import Role
from bridgedesk.models import User
from certification.service import reports
from monitoring.models import Ticket
from monitoring.service import callstats, service_report, uptime
from reservations.models import Customer
from reservations.service import confirmation

EVERY_COMMITMENT = [
    "uptime_bridge",
    "uptime_reservations",
    "confirmation_deadlines",
    "adhoc_turnaround",
    "add_site_turnaround",
    "recovery",
    "failed_calls",
    "on_time_launch",
    "certification_deadlines",
    "desk_response",
    "desk_resolution",
    "desk_email",
    "desk_phone",
]


def _last_month() -> str:
    now = utcnow()
    year, month = (now.year - 1, 12) if now.month == 1 else (now.year, now.month - 1)
    return f"{year:04d}-{month:02d}"


@pytest.fixture
async def demo(db, app):
    """`bridgedesk demo` in the test's transaction (the app is made first: it connects the
    figures one package hands another)."""
    await load_demo()
    acme = await db.scalar(select(Customer).where(Customer.name == "Acme Corporation"))
    admin = await db.scalar(select(User).where(User.email == "admin@bridgedesk.example"))
    return acme, actor_of(admin)


def _by_key(report: service_report.ServiceReport) -> dict[str, service_report.Commitment]:
    return {c.key: c for c in report.commitments}


async def test_every_figure_is_the_figure_of_the_package_that_owns_it(db, demo):
    acme, admin = demo
    month = _last_month()
    now = utcnow()

    report = await service_report.build(db, acme.id, month, by=admin, now=now)

    found = _by_key(report)
    assert [c.key for c in report.commitments] == EVERY_COMMITMENT
    # Uptime: monitoring's monthly report of each component.
    for component in ("bridge", "reservations"):
        owned = await uptime.monthly_report(db, component, month, now=now)
        mine = found[f"uptime_{component}"]
        assert (mine.figure, mine.met) == (owned.availability_pct, owned.met)
        assert len(mine.evidence) == 1 + len(owned.intervals)
    # Call statistics: the customer's month as monitoring's call statistics count it.
    stats = (await callstats.customer_month(db, acme.id, month, by=admin)).stats
    assert stats.calls > 0, "the demo's month has calls"
    assert (found["failed_calls"].figure, found["failed_calls"].met) == (
        stats.failure_rate_pct,
        stats.failure_met,
    )
    assert (found["on_time_launch"].figure, found["on_time_launch"].met) == (
        stats.on_time_pct,
        stats.on_time_met,
    )
    assert (found["recovery"].figure, found["recovery"].met) == (
        stats.restored_pct,
        stats.restored_met,
    )
    assert (
        f"{stats.failed_calls} of {stats.calls} calls failed" in found["failed_calls"].evidence[0]
    )
    for cause in stats.failures_by_cause:
        assert any(
            line.startswith(f"{cause.label}: {cause.count} ")
            for line in found["failed_calls"].evidence
        )
    for key, turnaround in (
        ("adhoc_turnaround", stats.adhoc),
        ("add_site_turnaround", stats.add_site),
    ):
        assert turnaround is not None
        assert found[key].figure == turnaround.within_target_pct
    # Confirmation deadlines: reservations' figure for the customer's month.
    span = uptime.month_span(*uptime.parse_month(month), ZoneInfo(acme.timezone))
    confirmed = await confirmation.confirmation_figure(
        db, start=span.start, end=span.end, now=now, customer_id=acme.id
    )
    assert found["confirmation_deadlines"].figure == confirmed.share_pct
    # Certification: certification's monthly figure, for this customer's sites.
    certified = await reports.monthly_figure(db, month, customer_id=acme.id)
    mine = found["certification_deadlines"]
    assert (
        mine.evidence[0] == f"{certified.on_time} of {certified.certified} sites certified in time"
    )
    expected = (
        None
        if certified.share_on_time is None
        else Decimal(str(round(certified.share_on_time * 100, 2))).quantize(Decimal("0.01"))
    )
    assert mine.figure == expected
    # The desk: each ticket of the month against the clocks its policy set, by hand.
    tickets = (
        await db.scalars(
            select(Ticket).where(
                Ticket.customer_id == acme.id,
                Ticket.reported_at >= span.start,
                Ticket.reported_at < span.end,
            )
        )
    ).all()
    answered = [t for t in tickets if t.responded_at is not None or t.respond_by <= now]
    in_time = [t for t in answered if t.responded_at and t.responded_at <= t.respond_by]
    assert (
        found["desk_response"].evidence[0] == f"{len(in_time)} of {len(answered)} tickets in time"
    )
    # The phone share is not measured on this branch: shown, never judged.
    assert (found["desk_phone"].value, found["desk_phone"].met) == (None, None)


async def test_the_json_the_html_and_the_pdf_name_every_commitment(db, demo, client_as):
    acme, _admin = demo
    month = _last_month()
    scheduler = await client_as(Role.SCHEDULER, customer_id=acme.id)
    base = f"/api/v1/customers/{acme.id}/service-report"

    answer = await scheduler.get(base, params={"month": month})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [c["key"] for c in body["commitments"]] == EVERY_COMMITMENT
    assert set(body["commitments"][0]) >= {
        "key",
        "description",
        "target",
        "value",
        "met",
        "evidence",
    }

    html = await scheduler.get(f"{base}.html", params={"month": month})
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    pdf = await scheduler.get(f"{base}.pdf", params={"month": month})
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    flat = re.sub(r"\s+", " ", text)
    for commitment in body["commitments"]:
        assert f"({commitment['key']})" in flat.replace(" _", "_").replace("_ ", "_"), commitment[
            "key"
        ]
        assert commitment["target"] in flat
    for commitment in body["commitments"]:
        if commitment["value"] is not None:
            assert commitment["value"] in flat


async def test_another_customers_users_do_not_see_it(db, demo, client_as):
    acme, _admin = demo
    kiribati = await db.scalar(select(Customer).where(Customer.name == "Kiribati Shipping"))
    outsider = await client_as(Role.BILLING, customer_id=kiribati.id)
    answer = await outsider.get(
        f"/api/v1/customers/{acme.id}/service-report", params={"month": _last_month()}
    )
    assert answer.status_code == 404


async def test_the_customers_page_shows_each_commitment(db, demo, sign_in, make_user):
    acme, _admin = demo
    page = await sign_in(await make_user(Role.BILLING, customer_id=acme.id))
    shown = await page.get(f"/customers/{acme.id}/service-report", params={"month": _last_month()})
    assert shown.status_code == 200, shown.text
    for key in EVERY_COMMITMENT:
        assert f'data-key="{key}"' in shown.text


async def test_it_reaches_the_billing_contacts_with_the_invoice(db, demo, client_as, smtp_server):
    acme, _admin = demo
    month = _last_month()
    draft = await db.scalar(
        select(Invoice).where(Invoice.customer_id == acme.id, Invoice.period == month)
    )
    assert draft is not None, "the demo drafts last month's invoices"
    finance = await client_as(Role.FINANCE)
    issued = await finance.post(f"/api/v1/invoices/{draft.id}/issue")
    assert issued.status_code == 200, issued.text
    number = issued.json()["number"]

    assert await deliver_issued_documents_job() == 1
    assert await outbox.send_due() >= 1  # the demo queued mail of its own too

    (delivered,) = smtp_server.mailbox.with_subject(number)
    recipients, message = delivered
    assert sorted(recipients) == sorted(acme.billing_emails)
    names = [a.get_filename() for a in message.iter_attachments()]
    assert names == [f"{number}.pdf", f"service-report-{acme.id}-{month}.pdf"]
    report_pdf = list(message.iter_attachments())[1].get_content()
    text = re.sub(
        r"\s+", " ", " ".join(p.extract_text() for p in PdfReader(io.BytesIO(report_pdf)).pages)
    )
    assert "Acme Corporation" in text and month in text
    assert "Also attached" in message.get_body(("plain",)).get_content()
