"""Issuing: the PDF and HTML come from one template, the PDF reads back with every number,
the CSV re-adds to the total, and the email reaches a real SMTP server with the PDF."""

import csv
import io
from decimal import Decimal

from pypdf import PdfReader

from billing.jobs import deliver_issued_documents_job
from bridgedesk import outbox
from bridgedesk.identity import Role


async def _issued(finance, customer_id):
    run = await finance.post(
        "/api/v1/invoices/run", json={"month": "2026-10", "customer_id": customer_id}
    )
    assert run.status_code == 200, run.text
    invoice_id = run.json()["drafted"][0]
    issued = await finance.post(f"/api/v1/invoices/{invoice_id}/issue")
    assert issued.status_code == 200, issued.text
    return issued.json()


def _pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


async def test_pdf_html_and_csv_are_the_same_invoice(db, october, client_as):
    finance = await client_as(Role.FINANCE)
    invoice = await _issued(finance, october["customer"].id)
    pdf = await finance.get(f"/api/v1/invoices/{invoice['id']}.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"] == f'inline; filename="{invoice["number"]}.pdf"'
    text = _pdf_text(pdf.content)
    html = (await finance.get(f"/api/v1/invoices/{invoice['id']}.html")).text
    assert invoice["number"] in text and invoice["number"] in html
    for conference in invoice["conferences"]:
        for rendition in (text, html):
            assert conference["conference_number"] in rendition
            assert conference["total_charges"] in rendition
        for site in conference["sites"]:
            assert site["site_name"] in text and site["charges"] in text
    assert f"USD {invoice['total']}" in text and f"USD {invoice['total']}" in html

    response = await finance.get(f"/api/v1/invoices/{invoice['id']}.csv")
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == (
        f'inline; filename="{invoice["number"]}.csv"'
    )
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert sum(Decimal(row["charges"]) for row in rows) == Decimal(invoice["total"])
    assert {row["invoice_number"] for row in rows} == {invoice["number"]}
    lines = sum(len(c["sites"]) + len(c["features"]) for c in invoice["conferences"])
    assert len(rows) == lines


async def test_issuing_emails_the_pdf_to_the_billing_contacts(db, october, client_as, smtp_server):
    finance = await client_as(Role.FINANCE)
    invoice = await _issued(finance, october["customer"].id)
    # Issuing only records the delivery as due; the job draws the PDF and queues the email.
    assert await outbox.send_due() == 0
    assert await deliver_issued_documents_job() == 1
    assert await deliver_issued_documents_job() == 0
    assert await outbox.send_due() == 1
    (delivered,) = smtp_server.mailbox.with_subject(invoice["number"])
    recipients, message = delivered
    assert sorted(recipients) == ["ap@acme.example", "cfo@acme.example"]
    assert invoice["total"] in str(message["Subject"])
    # The invoice first; then what the shell connects to it (monitoring's service report).
    attachment, *companions = list(message.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == f"{invoice['number']}.pdf"
    text = _pdf_text(attachment.get_content())
    assert invoice["number"] in text and invoice["total"] in text
    assert [c.get_filename() for c in companions] == [
        f"service-report-{invoice['customer_id']}-2026-10.pdf"
    ]


async def test_credit_memos_are_their_own_documents_within_what_was_billed(
    db,
    october,
    client_as,
    smtp_server,
):
    finance = await client_as(Role.FINANCE)
    invoice = await _issued(finance, october["customer"].id)
    a = invoice["conferences"][0]  # 63.73 billed
    body = {
        "invoice_id": invoice["id"],
        "conference_number": a["conference_number"],
        "reason": "London audio was poor",
    }
    first = await finance.post("/api/v1/credit-memos", json={**body, "amount": "60.00"})
    assert first.status_code == 201, first.text
    memo = first.json()
    assert memo["number"].startswith("CM-") and memo["amount"] == "60.00"
    assert memo["invoice_number"] == invoice["number"]
    # 3.73 is left of that conference: 3.74 is refused, 3.73 is not.
    refused = await finance.post("/api/v1/credit-memos", json={**body, "amount": "3.74"})
    assert refused.status_code == 409 and refused.json()["left"] == "3.73"
    for bad in ("0", "-1", "1.001", "abc"):
        response = await finance.post("/api/v1/credit-memos", json={**body, "amount": bad})
        assert response.status_code == 422, (bad, response.text)
    second = await finance.post("/api/v1/credit-memos", json={**body, "amount": "3.73"})
    assert second.status_code == 201
    assert int(second.json()["number"][-6:]) == int(memo["number"][-6:]) + 1
    # The invoice itself is unchanged.
    assert (await finance.get(f"/api/v1/invoices/{invoice['id']}")).json()["total"] == "79.58"
    pdf = await finance.get(f"/api/v1/credit-memos/{memo['id']}.pdf")
    assert pdf.headers["content-disposition"] == f'inline; filename="{memo["number"]}.pdf"'
    text = _pdf_text(pdf.content)
    assert memo["number"] in text and invoice["number"] in text and "60.00" in text
    assert await deliver_issued_documents_job() == 3  # the invoice and both memos
    await outbox.send_due()
    (delivered,) = smtp_server.mailbox.with_subject(memo["number"])
    assert sorted(delivered[0]) == ["ap@acme.example", "cfo@acme.example"]
    (attachment,) = list(delivered[1].iter_attachments())
    assert memo["number"] in _pdf_text(attachment.get_content())


async def test_credit_memos_only_against_issued_invoices(db, october, client_as):
    finance = await client_as(Role.FINANCE)
    run = await finance.post("/api/v1/invoices/run", json={"month": "2026-10"})
    draft_id = run.json()["drafted"][0]
    draft = (await finance.get(f"/api/v1/invoices/{draft_id}")).json()
    response = await finance.post(
        "/api/v1/credit-memos",
        json={
            "invoice_id": draft_id,
            "amount": "1.00",
            "reason": "x",
            "conference_number": draft["conferences"][0]["conference_number"],
        },
    )
    assert response.status_code == 409


async def test_the_next_invoice_cover_lists_credit_memos(
    db,
    october,
    client_as,
    held_conference,
    add_leg,
):
    from datetime import UTC, datetime

    finance = await client_as(Role.FINANCE)
    acme = october["customer"]
    invoice = await _issued(finance, acme.id)
    a = invoice["conferences"][0]
    memo = (
        await finance.post(
            "/api/v1/credit-memos",
            json={
                "invoice_id": invoice["id"],
                "conference_number": a["conference_number"],
                "amount": "10.00",
                "reason": "Dropped twice",
            },
        )
    ).json()
    november = datetime(2026, 11, 10, 15, tzinfo=UTC)
    ny = october["sites"]["ny"]
    conference = await held_conference(acme, [ny], november)
    await add_leg(conference, ny, november, 60, 768)
    run = await finance.post("/api/v1/invoices/run", json={"month": "2026-11"})
    (next_id,) = run.json()["drafted"]
    cover = (await finance.get(f"/api/v1/invoices/{next_id}")).json()
    assert [m["number"] for m in cover["credit_memos"]] == [memo["number"]]
    assert cover["total"] == "0.24"  # the memo is a separate document, not a deduction
    html = (await finance.get(f"/api/v1/invoices/{next_id}.html")).text
    assert memo["number"] in html
    # Issuing it marks the memo shown: December's cover will not list it again.
    assert (await finance.post(f"/api/v1/invoices/{next_id}/issue")).status_code == 200
    memo_now = (await finance.get(f"/api/v1/credit-memos/{memo['id']}")).json()
    assert memo_now["shown_on_invoice_id"] == next_id


async def test_a_failing_companion_never_holds_the_invoice_back(
    db, october, client_as, smtp_server, monkeypatch
):
    from billing.service import delivery

    async def broken(session, customer_id, period):
        raise RuntimeError("no report for this month")

    monkeypatch.setattr(delivery, "_companions", [broken])
    finance = await client_as(Role.FINANCE)
    invoice = await _issued(finance, october["customer"].id)
    assert await deliver_issued_documents_job() == 1
    assert await outbox.send_due() == 1
    (delivered,) = smtp_server.mailbox.with_subject(invoice["number"])
    assert [a.get_filename() for a in delivered[1].iter_attachments()] == [
        f"{invoice['number']}.pdf"
    ]
