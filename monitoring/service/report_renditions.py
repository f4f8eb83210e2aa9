"""The service report's renditions: HTML and PDF from one Jinja2 template (the same body the
customer's page shows)."""

from bridgedesk.templating import environment
from monitoring.service.service_report import ServiceReport

TEMPLATE = "monitoring/service_report.html"


def report_html(report: ServiceReport) -> str:
    return environment.get_template(TEMPLATE).render(report=report)


def report_pdf(report: ServiceReport) -> bytes:
    """The same HTML, printed by WeasyPrint (as billing prints its invoices)."""
    from weasyprint import HTML  # heavy to import; only the PDF needs it

    return bytes(HTML(string=report_html(report)).write_pdf())


def report_filename(report: ServiceReport) -> str:
    return f"service-report-{report.customer_id}-{report.month}.pdf"
