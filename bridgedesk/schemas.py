"""What every package's API models share: answers read straight from a model's attributes,
and the input rules every edge applies alike (ids, instants, paging, text without control
characters)."""

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from types import UnionType
from typing import Annotated, Any, Self, Union, get_args, get_origin

from annotated_types import Ge, Le
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    GetJsonSchemaHandler,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

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


# Pydantic would also read a bare number (in JSON, or a query string's "1700000000") as Unix
# seconds; the API speaks ISO 8601 only, so a number is a 422 like any other malformed instant.
_ISO_8601_START = re.compile(r"\s*\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def iso_8601_only(value: object) -> object:
    if isinstance(value, datetime) or (isinstance(value, str) and _ISO_8601_START.match(value)):
        return value
    raise ValueError("must be an ISO 8601 date and time with an offset, e.g. 2027-01-04T09:00Z")


# Aware instants only, written in ISO 8601: a naive datetime or a bare number is a 422.
Instant = Annotated[AwareDatetime, BeforeValidator(iso_8601_only), AfterValidator(on_the_calendar)]

# Paging of every list route: bounded, so that no query string can overflow the driver
# (`?offset=9223372036854775808` is a 422, not a 500).
MAX_PAGE = 1000
Offset = Annotated[int, Ge(0), Le(MAX_KEY)]
Limit = Annotated[int, Ge(1), Le(MAX_PAGE)]


class MultiLine:
    """Marks a text field that may hold line breaks and tabs (a note, a description):
    `Annotated[str, Field(...), MULTI_LINE]`. Every other text field is a single line. The
    published schema says so too (`"x-multi-line": true`)."""

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(core_schema)
        schema["x-multi-line"] = True
        return schema

    def __repr__(self) -> str:
        return "MULTI_LINE"


MULTI_LINE = MultiLine()


def _marked(annotation: object, test: Callable[[object], bool]) -> bool:
    """Whether `test` holds for the type or anything inside it (`X | None`, `list[X]`,
    `Annotated[X, ...]` metadata)."""
    if test(annotation):
        return True
    metadata = getattr(annotation, "__metadata__", ())
    if get_origin(annotation) is Annotated and any(test(m) for m in metadata):
        return True
    return any(_marked(arg, test) for arg in get_args(annotation))


def is_multi_line(field: FieldInfo) -> bool:
    return any(isinstance(m, MultiLine) for m in field.metadata) or _marked(
        field.annotation, lambda t: isinstance(t, MultiLine)
    )


def _holds_models(field: FieldInfo) -> bool:
    return _marked(field.annotation, lambda t: isinstance(t, type) and issubclass(t, BaseModel))


def _texts(value: object, *, models: bool, top: bool = True) -> Iterator[str]:
    """The raw text of a field: itself, or inside lists and dicts (keys too). With `models`,
    objects that will become nested models are left to them: each checks its own fields."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        if models and not top:
            return
        for key, item in value.items():
            yield from _texts(key, models=models, top=False)
            if not (models and isinstance(item, dict)):
                yield from _texts(item, models=models, top=False)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _texts(item, models=models, top=False)


class Strict(BaseModel):
    """A request body: unknown fields refused, text trimmed, and control characters refused
    as sent, before trimming (TAB and LF only in fields marked `MULTI_LINE`, whose CRLF line
    breaks become LF). PostgreSQL cannot store NUL; no backend gets any control character."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @model_validator(mode="before")
    @classmethod
    def _no_control_characters(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        checked = dict(data)
        for key, value in data.items():
            field = cls.model_fields.get(key) if isinstance(key, str) else None
            multiline = field is not None and is_multi_line(field)
            models = field is not None and _holds_models(field)
            if multiline and isinstance(value, str):
                value = checked[key] = text.normalized(value, multiline=True)
            if models and isinstance(value, dict) and get_origin(_bare(field)) is not dict:
                continue  # one nested model: it checks its own fields
            for piece in (key, *_texts(value, models=models)):
                if not isinstance(piece, str):
                    continue
                character = text.control_character(piece, multiline=multiline)
                if character is not None:
                    raise ValueError(f"{key}: {text.refusal(character)}")
        return checked


def _bare(field: FieldInfo | None) -> object:
    """The field's type without `| None`."""
    annotation: object = field.annotation if field else None
    args = [a for a in get_args(annotation) if a is not type(None)]
    return (
        args[0] if get_origin(annotation) in (Union, UnionType) and len(args) == 1 else annotation
    )


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
