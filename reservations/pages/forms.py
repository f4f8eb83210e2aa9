"""What the pages' forms send, read as typed values: ids, local dates and times, bounded text."""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from starlette.datastructures import ImmutableMultiDict

from bridgedesk.db import MAX_KEY
from bridgedesk.errors import InvalidInput
from reservations.models import Customer
from reservations.pages.repeats import RepeatForm
from reservations.service import booking

MAX_SPEED_KBPS = 100_000
# Dates the pages accept: wide enough for any booking, narrow enough that no arithmetic overflows.
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(2999, 12, 31)

Fields = ImmutableMultiDict[str, Any]
Day = date  # BookingForm has a field named `date`, which hides the type inside the class


def optional_int(text: object, what: str) -> int | None:
    """A form's number field; ids beyond a 32-bit key are refused before the database sees them."""
    text = text.strip() if isinstance(text, str) else ""
    if not text:
        return None
    if not (text.isascii() and text.isdigit() and int(text) <= MAX_KEY):
        raise InvalidInput(f"{what} must be a whole number.")
    return int(text)


def required_int(text: object, what: str) -> int:
    number = optional_int(text, what)
    if number is None:
        raise InvalidInput(f"Enter {what.lower()}.")
    return number


def calendar_day(text: str, problem: str) -> date:
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(problem) from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise InvalidInput(f"Choose a date between {FIRST_DAY} and {LAST_DAY}.")
    return day


def clock_time(text: str, problem: str) -> time:
    try:
        return time.fromisoformat(text.strip()).replace(tzinfo=None)
    except ValueError:
        raise InvalidInput(problem) from None


def aware(day: date, at: time, zone: ZoneInfo) -> datetime:
    """A wall-clock time in the zone as a UTC instant; times skipped by a clock change are 422."""
    local = datetime.combine(day, at, tzinfo=zone)
    instant = local.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != local.replace(tzinfo=None):
        raise InvalidInput(
            f"{at:%H:%M} on {day} does not exist in {zone.key}: the clocks change then."
        )
    return instant


def text_of(fields: Fields, name: str) -> str:
    value = fields.get(name)
    return value.strip() if isinstance(value, str) else ""


def site_ids_of(fields: Fields) -> list[int]:
    """The ticked site checkboxes, each once, in the order sent."""
    chosen = (optional_int(v, "A site") for v in fields.getlist("site_id"))
    return list(dict.fromkeys(site_id for site_id in chosen if site_id is not None))


def speed_of(text: str) -> int | None:
    speed = optional_int(text, "A speed")
    if speed is not None and not 0 < speed <= MAX_SPEED_KBPS:
        raise booking.InvalidBooking("A speed must be between 1 and 100000 kbps.")
    return speed


@dataclass
class BookingForm:
    """The booking form as typed, kept as text so that a refused form comes back unchanged."""

    customer_id: str = ""
    title: str = ""
    leader_name: str = ""
    project_code: str = ""
    date: str = ""
    start: str = ""
    end: str = ""
    end_date: str = ""  # blank: the same day as the start
    site_ids: list[int] = field(default_factory=list)
    speeds: dict[int, str] = field(default_factory=dict)
    repeat: RepeatForm = field(default_factory=RepeatForm)

    @classmethod
    def from_fields(cls, fields: Fields) -> "BookingForm":
        """From a submitted form or a query string (both are Starlette multi-dicts)."""
        site_ids = site_ids_of(fields)
        names = ("customer_id", "title", "leader_name", "project_code", "date", "start", "end")
        return cls(
            **{name: text_of(fields, name) for name in names},
            end_date=text_of(fields, "end_date"),
            site_ids=site_ids,
            speeds={site_id: text_of(fields, f"speed_{site_id}") for site_id in site_ids},
            repeat=RepeatForm.from_fields(fields),
        )

    def fill_defaults(self, now_local: datetime) -> None:
        """A fresh form proposes the next full hour, for an hour."""
        if not self.start:
            start = now_local.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
            self.date = self.date or start.date().isoformat()
            self.start = f"{start:%H:%M}"
        if not self.end:
            start_time = clock_time(self.start, "Enter the start time.")
            self.end = f"{(start_time.hour + 1) % 24:02d}:{start_time.minute:02d}"
        if not self.date:
            self.date = now_local.date().isoformat()

    def first_day(self) -> Day:
        return calendar_day(self.date, "Enter the meeting date.")

    def interval(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        day = self.first_day()
        start = clock_time(self.start, "Enter the start time.")
        end = clock_time(self.end, "Enter the end time.")
        end_day = day
        if self.end_date:
            end_day = calendar_day(self.end_date, "The end date is not a date.")
        elif end <= start:
            raise InvalidInput(
                "The end must be after the start; for a meeting past midnight, give the end date."
            )
        return aware(day, start, zone), aware(end_day, end, zone)

    def rule(self) -> str | None:
        """The RFC 5545 rule the Repeats section describes, or None for a single meeting."""
        return self.repeat.rule(self.first_day()) if self.repeat.frequency else None

    def to_request(self, customer: Customer) -> booking.BookingRequest:
        """The form as a booking request; the service checks its text and times."""
        start, end = self.interval(ZoneInfo(customer.timezone))
        speeds = {site_id: speed_of(text) for site_id, text in self.speeds.items()}
        return booking.BookingRequest(
            customer_id=customer.id,
            title=self.title,
            leader_name=self.leader_name,
            start=start,
            end=end,
            sites=[booking.SiteRequest(i, speeds.get(i)) for i in self.site_ids],
            project_code=self.project_code or None,
        )


@dataclass
class AdhocForm:
    """The "ad hoc conference now" form as typed."""

    customer_id: str = ""
    title: str = ""
    leader_name: str = ""
    minutes: str = "60"
    site_ids: list[int] = field(default_factory=list)

    @classmethod
    def from_fields(cls, fields: Fields) -> "AdhocForm":
        return cls(
            customer_id=text_of(fields, "customer_id"),
            title=text_of(fields, "title"),
            leader_name=text_of(fields, "leader_name"),
            minutes=text_of(fields, "minutes"),
            site_ids=site_ids_of(fields),
        )

    def length(self) -> timedelta:
        return timedelta(minutes=required_int(self.minutes, "The length in minutes"))

    def sites(self) -> list[booking.SiteRequest]:
        return [booking.SiteRequest(site_id) for site_id in self.site_ids]
