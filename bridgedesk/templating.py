"""One Jinja2 environment for pages and emails, reading each package's templates/ folder."""

from datetime import datetime
from zoneinfo import ZoneInfo

from jinja2 import ChoiceLoader, Environment, PackageLoader, select_autoescape

PACKAGES_WITH_TEMPLATES = (
    "bridgedesk",
    "reservations",
    "monitoring",
    "billing",
    "certification",
    "bridge",
)


def _local(value: datetime | None, zone: str = "UTC", fmt: str = "%Y-%m-%d %H:%M") -> str:
    """An instant shown in a zone, with the zone's abbreviation so nobody guesses."""
    if value is None:
        return ""
    local = value.astimezone(ZoneInfo(zone))
    return f"{local.strftime(fmt)} {local.tzname()}"


environment = Environment(
    loader=ChoiceLoader([PackageLoader(name, "templates") for name in PACKAGES_WITH_TEMPLATES]),
    autoescape=select_autoescape(["html", "xml"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.filters["local"] = _local


def render_email(template: str, **context: object) -> tuple[str, str]:
    """(subject, body) from a text template whose first line is `Subject: ...`."""
    text = environment.get_template(template).render(**context)
    first, _, body = text.partition("\n")
    if not first.startswith("Subject: "):
        raise ValueError(f"{template} must start with a 'Subject: ' line")
    return first.removeprefix("Subject: ").strip(), body.lstrip("\n")
