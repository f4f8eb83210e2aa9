"""What every package's API models share: answers read straight from a model's attributes,
and the input rules every edge applies alike (ids, instants, paging, text without control
characters)."""

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Any, Self, get_args, get_origin

from annotated_types import Ge, Le
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, model_validator

from bridgedesk import text
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


# Aware instants only: a naive datetime is a 422.
Instant = Annotated[AwareDatetime, AfterValidator(on_the_calendar)]

# Paging of every list route: bounded, so that no query string can overflow the driver
# (`?offset=9223372036854775808` is a 422, not a 500).
MAX_PAGE = 1000
Offset = Annotated[int, Ge(0), Le(MAX_KEY)]
Limit = Annotated[int, Ge(1), Le(MAX_PAGE)]


class MultiLine:
    """Marks a text field that may hold line breaks and tabs (a note, a description):
    `Annotated[str, Field(...), MULTI_LINE]`. Every other text field is a single line."""

    def __repr__(self) -> str:
        return "MULTI_LINE"


MULTI_LINE = MultiLine()


def contains_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(contains_nul(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(contains_nul(v) for v in value)
    return False


def _marked_multi_line(annotation: object) -> bool:
    """Whether the type carries `MULTI_LINE`, also inside `X | None` (where pydantic keeps it)."""
    metadata = getattr(annotation, "__metadata__", ())
    if get_origin(annotation) is Annotated and any(isinstance(m, MultiLine) for m in metadata):
        return True
    return any(_marked_multi_line(arg) for arg in get_args(annotation))


def _texts(value: object) -> Iterator[str]:
    """The text of a validated field: itself, or inside lists and dicts (keys too). Nested
    models are skipped: each `Strict` model checks its own fields."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _texts(key)
            yield from _texts(item)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from _texts(item)


class Strict(BaseModel):
    """A request body: unknown fields refused, text trimmed, control characters refused
    (TAB and LF allowed only in fields marked `MULTI_LINE`)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _no_nul_characters(cls, data: Any) -> Any:
        # PostgreSQL text cannot hold NUL; refuse it on every backend alike.
        if contains_nul(data):
            raise ValueError("text may not contain NUL characters")
        return data

    @model_validator(mode="after")
    def _no_control_characters(self) -> Self:
        for name, field in type(self).model_fields.items():
            value = getattr(self, name)
            multiline = any(isinstance(m, MultiLine) for m in field.metadata) or _marked_multi_line(
                field.annotation
            )
            if multiline and isinstance(value, str):
                value = text.normalized(value, multiline=True)
                object.__setattr__(self, name, value)
            for piece in _texts(value):
                character = text.control_character(piece, multiline=multiline)
                if character is not None:
                    raise ValueError(f"{name}: {text.refusal(character)}")
        return self


class FromRow(BaseModel):
    """An answer whose fields are the row's attributes of the same names."""

    model_config = ConfigDict(from_attributes=True)

    @classmethod
    def from_model(cls, row: Any) -> Self:
        return cls.model_validate(row)
