"""An invoice's and a credit memo's renditions: HTML and PDF from one Jinja2 template each,
and the CSV of line items whose charges re-add to the invoice total (text cells that would
run as a formula are neutralized by `bridgedesk.csvfile`; amounts are left as numbers)."""

from billing.service.documents import CreditMemoView, InvoiceView
from bridgedesk.csvfile import csv_text
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
    """One row per site line, per feature line and per extra charge (e.g. best-effort
    support): the charges column sums to the total."""
    rows: list[list[object]] = [list(CSV_COLUMNS)]
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
            rows.append(
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
            rows.append(
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
    for extra in document.extra_charges:
        rows.append(
            [
                *head,
                extra.reference,
                extra.date,
                "",
                "",
                "",
                "extra",
                "",
                "",
                "",
                "",
                extra.kind,
                1,
                extra.minutes,
                extra.amount,
            ]
        )
    return csv_text(rows)
