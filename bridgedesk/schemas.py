"""What every package's API models share: answers read straight from a model's attributes,
and the input rules every edge applies alike (ids, instants, text without NUL)."""

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Self

from annotated_types import Ge, Le
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    model_validator,
)

from bridgedesk.db import MAX_KEY

# Ids are the database's INTEGER keys: anything outside 1..2^31-1 is refused at the edge
# rather than overflowing the driver (a 500 on SQLite and PostgreSQL alike).
Id = Annotated[int, Ge(1), Le(MAX_KEY)]
# Instants far enough inside datetime's years 1-9999 that shifting them into any time zone
# cannot overflow (year 9999 at -05:00 would be a 500, not a 422).
INSTANT_YEARS = (1970, 9000)


def on_the_calendar(value: datetime) -> datetime:
    try:
        year = value.astimezone(UTC).year
    except OverflowError:
        year = 0
    if not INSTANT_YEARS[0] <= year <= INSTANT_YEARS[1]:
        raise ValueError(f"must lie between the years {INSTANT_YEARS[0]} and {INSTANT_YEARS[1]}")
    return value


# Pydantic would also read a bare number (in JSON, or a query string's "1700000000") as Unix
# seconds; the API speaks ISO 8601 only, so a number is a 422 like any other malformed instant.
_ISO_8601_START = re.compile(r"\s*\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def iso_8601_only(value: object) -> object:
    if isinstance(value, datetime) or (isinstance(value, str) and _ISO_8601_START.match(value)):
        return value
    raise ValueError("must be an ISO 8601 date and time with an offset, e.g. 2027-01-04T09:00Z")


# Aware instants only, written in ISO 8601: a naive datetime or a bare number is a 422.
Instant = Annotated[AwareDatetime, BeforeValidator(iso_8601_only), AfterValidator(on_the_calendar)]


def contains_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(contains_nul(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(contains_nul(v) for v in value)
    return False


class Strict(BaseModel):
    """A request body: unknown fields refused, text trimmed, NUL refused."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _no_nul_characters(cls, data: Any) -> Any:
        # PostgreSQL text cannot hold NUL; refuse it on every backend alike.
        if contains_nul(data):
            raise ValueError("text may not contain NUL characters")
        return data


class ValidationIssue(BaseModel):
    """One field the request got wrong: where (`loc`), what (`msg`), and the rule's name."""

    loc: list[str | int]
    msg: str
    type: str


class ErrorOut(BaseModel):
    """Every error answer, whatever its status: `detail` is a sentence, or for a request that
    fails validation one entry per field; a refusal may add fields beside it (a booking's
    `conflicts`, for instance)."""

    model_config = ConfigDict(extra="allow")

    detail: str | list[ValidationIssue]


class FromRow(BaseModel):
    """An answer whose fields are the row's attributes of the same names."""

    model_config = ConfigDict(from_attributes=True)

    @classmethod
    def from_model(cls, row: Any) -> Self:
        return cls.model_validate(row)
