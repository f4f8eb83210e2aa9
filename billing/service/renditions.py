"""An invoice's and a credit memo's renditions: HTML and PDF from one Jinja2 template each,
and the CSV of line items whose charges re-add to the invoice total."""

import csv
import io

from billing.service.documents import CreditMemoView, InvoiceView
from bridgedesk.templating import environment

INVOICE_TEMPLATE = "billing/invoice.html"
CREDIT_MEMO_TEMPLATE = "billing/credit_memo.html"

CSV_COLUMNS = (
    "invoice_number",
    "period",
    "currency",
    "conference_number",
    "conference_start",
    "project_code",
    "leader_name",
    "requester_name",
    "line",
    "site_id",
    "site_name",
    "billing_zone",
    "speed_kbps",
    "feature_code",
    "quantity",
    "minutes",
    "charges",
)


def invoice_html(document: InvoiceView) -> str:
    return environment.get_template(INVOICE_TEMPLATE).render(invoice=document)


def credit_memo_html(document: CreditMemoView) -> str:
    return environment.get_template(CREDIT_MEMO_TEMPLATE).render(memo=document)


def _pdf(html: str) -> bytes:
    from weasyprint import HTML  # heavy to import; only renditions need it

    return bytes(HTML(string=html).write_pdf())


def invoice_pdf(document: InvoiceView) -> bytes:
    """The same HTML the browser gets, printed by WeasyPrint."""
    return _pdf(invoice_html(document))


def credit_memo_pdf(document: CreditMemoView) -> bytes:
    return _pdf(credit_memo_html(document))


def invoice_csv(document: InvoiceView) -> str:
    """One row per site line and per feature line: the charges column sums to the total."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    head = [document.number or "DRAFT", document.period, document.currency]
    for conference in document.conferences:
        about = [
            conference.conference_number,
            conference.start,
            conference.project_code or "",
            conference.leader_name,
            conference.requester_name,
        ]
        for site in conference.sites:
            writer.writerow(
                [
                    *head,
                    *about,
                    "site",
                    site.site_id,
                    site.site_name,
                    site.billing_zone,
                    site.speed_kbps,
                    "",
                    "",
                    site.minutes,
                    site.charges,
                ]
            )
        for feature in conference.features:
            writer.writerow(
                [
                    *head,
                    *about,
                    "feature",
                    "",
                    "",
                    "",
                    "",
                    feature.code,
                    feature.quantity,
                    "",
                    feature.charges,
                ]
            )
    return out.getvalue()
