"""The monthly service report for the demo's last month: every figure is the figure of the
package that owns it, the PDF read back names every commitment, the customer's own users
(and no other customer's) read it, and it reaches the billing contacts with the invoice."""

import io
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from pypdf import PdfReader
from sqlalchemy import select

from billing.jobs import deliver_issued_documents_job
from billing.models import Invoice
from bridgedesk import outbox
from bridgedesk.app.demo import load_demo
from bridgedesk.auth import actor_of
from bridgedesk.clock import utcnow
from bridgedesk.identity import Role
from bridgedesk.models import User
from certification.models import CertificationSignOff, CertificationTest
from certification.service import reports
from monitoring.models import Ticket
from monitoring.service import (
    callstats,
    desk_figures,
    service_report,
    ticket_handling,
    tickets,
    uptime,
)
from reservations.models import Customer
from reservations.service import confirmation

EVERY_COMMITMENT = [
    "uptime_bridge",
    "uptime_reservations",
    "confirmation_deadlines",
    "adhoc_turnaround",
    "add_site_turnaround",
    "recovery",
    "drops_audio_link",
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
    # The phone share: the desk's own monthly figure for the customer (desk_figures).
    desk = await desk_figures.month_desk_figures(db, month=month, customer_id=acme.id)
    assert desk.phone_share is not None
    assert found["desk_phone"].figure == (desk.phone_share * 100).quantize(Decimal("0.01"))
    assert found["desk_phone"].met == desk.phone_met
    assert found["desk_phone"].evidence == [f"{desk.phone_offered} calls"]


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


# A month built by hand: one customer's confirmations, sign-offs and tickets beside another's.

MARCH = datetime(2031, 3, 1, tzinfo=UTC)


async def _at(moment, coroutine_factory):
    with time_machine.travel(moment, tick=False):
        return await coroutine_factory()


async def test_a_hand_built_month_is_judged_commitment_by_commitment(
    db, app, make_customer, make_site, make_actor, make_conference
):
    mine = await make_customer(timezone="UTC")
    other = await make_customer(timezone="UTC")
    room = await make_site(customer=mine)
    elsewhere = await make_site(customer=other)
    operator = await make_actor(Role.OPERATOR)
    scheduler = await make_actor(Role.SCHEDULER, customer_id=mine.id)

    # Confirmations: both booked 2 March 10:00 for the 10th (8 h: due 18:00); one confirmed
    # at 12:00, the other the next morning.
    booked = MARCH + timedelta(days=1, hours=10)
    conferences = []
    for hour in (9, 14):
        start = MARCH + timedelta(days=9, hours=hour)
        conferences.append(
            await _at(
                booked,
                lambda start=start: make_conference(
                    sites=[room], start=start, end=start + timedelta(hours=1), by=scheduler
                ),
            )
        )
    await _at(
        booked + timedelta(hours=2),
        lambda: confirmation.confirm(db, conferences[0].id, by=operator),
    )
    await _at(
        booked + timedelta(hours=22),
        lambda: confirmation.confirm(db, conferences[1].id, by=operator),
    )

    # Sign-offs: two of this customer's in March (one late), one of the other customer's.
    for site, day, on_time in ((room, 5, True), (room, 20, False), (elsewhere, 10, True)):
        test = CertificationTest(
            site_id=site.id,
            probe_id=1,
            requested_by="t",
            requested_at=MARCH,
            sip_uri=site.sip_uri,
            outcome="passed",
        )
        db.add(test)
        await db.flush()
        db.add(
            CertificationSignOff(
                site_id=site.id,
                test_id=test.id,
                at=MARCH + timedelta(days=day),
                by="t",
                deadline_kind="external",
                deadline=MARCH + timedelta(days=day),
                on_time=on_time,
            )
        )
    await db.flush()

    # Tickets on the default policy: an SL4 by phone answered in 5 min (10 allowed), an SL3
    # by phone in an hour (15 min allowed), routine SL1 mail in 2 hours (24 h for email).
    for severity, channel, reported, answered in (
        ("SL4", "phone", MARCH + timedelta(days=3, hours=9), timedelta(minutes=5)),
        ("SL3", "phone", MARCH + timedelta(days=3, hours=10), timedelta(hours=1)),
        ("SL1", "email", MARCH + timedelta(days=3, hours=11), timedelta(hours=2)),
    ):
        ticket = await _at(
            reported,
            lambda severity=severity, channel=channel: tickets.open_ticket(
                db,
                tickets.NewTicket(mine.id, severity, "Down", "Bridge down", channel),
                by=operator,
            ),
        )
        await _at(
            reported + answered,
            lambda ticket=ticket: ticket_handling.respond(
                db, ticket.id, note=None, severity=None, by=operator
            ),
        )

    report = await service_report.build(
        db, mine.id, "2031-03", by=operator, now=MARCH + timedelta(days=33)
    )

    found = _by_key(report)
    shown = {key: (found[key].value, found[key].met, found[key].evidence[0]) for key in found}
    assert shown["confirmation_deadlines"] == (
        "50.00 %",
        False,
        "1 of 2 bookings confirmed by their deadline",
    )
    assert shown["certification_deadlines"] == ("50.00 %", False, "1 of 2 sites certified in time")
    assert shown["desk_response"] == ("66.67 %", False, "2 of 3 tickets in time")
    assert found["desk_response"].evidence[1:] == ["SL1: 1 of 1", "SL3: 0 of 1", "SL4: 1 of 1"]
    assert shown["desk_email"] == ("100.00 %", True, "1 of 1 tickets in time")
    # None was resolved, and each resolution time (24 h at most) had passed by April.
    assert shown["desk_resolution"] == ("0.00 %", False, "0 of 3 tickets in time")
    assert report.missed == [
        "confirmation_deadlines",
        "certification_deadlines",
        "desk_response",
        "desk_resolution",
    ]
