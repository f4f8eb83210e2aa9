"""One Jinja2 environment for pages and emails, reading each package's templates/ folder."""

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from jinja2 import ChoiceLoader, Environment, PackageLoader, select_autoescape

from bridgedesk.settings import get_settings

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


@dataclass(frozen=True)
class HelpDesk:
    """The provider's help desk as customers reach it (settings, SPEC §6)."""

    phone: str
    after_hours_phone: str
    email: str
    address: str


def helpdesk() -> HelpDesk:
    settings = get_settings()
    return HelpDesk(
        phone=settings.helpdesk_phone,
        after_hours_phone=settings.helpdesk_after_hours_phone,
        email=settings.helpdesk_email,
        address=settings.helpdesk_address,
    )


environment = Environment(
    loader=ChoiceLoader([PackageLoader(name, "templates") for name in PACKAGES_WITH_TEMPLATES]),
    autoescape=select_autoescape(["html", "xml"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.filters["local"] = _local
# Pages and emails show the help desk's numbers and address: `{{ helpdesk().phone }}`.
environment.globals["helpdesk"] = helpdesk


def render_email(template: str, **context: object) -> tuple[str, str]:
    """(subject, body) from a text template whose first line is `Subject: ...`."""
    text = environment.get_template(template).render(**context)
    first, _, body = text.partition("\n")
    if not first.startswith("Subject: "):
        raise ValueError(f"{template} must start with a 'Subject: ' line")
    return first.removeprefix("Subject: ").strip(), body.lstrip("\n")
