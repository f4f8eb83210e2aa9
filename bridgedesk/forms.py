"""The one rule for text in page forms: every field of every submitted form is checked for
control characters before any route reads it (the same rule as API bodies, `bridgedesk.text`).

It runs as an application-wide dependency, so a form added later is covered without asking.
Uploaded files are not text fields: the CSV import checks its cells itself.
"""

from fastapi import Request
from starlette.datastructures import UploadFile

from bridgedesk import text
from bridgedesk.errors import InvalidInput

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# The names of the pages' textarea fields (the only fields a browser sends line breaks in);
# tests/bridgedesk/test_bad_input.py checks this against the templates.
MULTI_LINE_FORM_FIELDS = frozenset({"description", "contacts"})


class ControlCharacters(InvalidInput):
    message = "The form holds control characters."


class UnreadableForm(InvalidInput):
    message = "The form could not be read."


async def refuse_control_characters(request: Request) -> None:
    """422 for a form whose field (name or value) holds a refused control character."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    if not request.headers.get("content-type", "").startswith(FORM_TYPES):
        return
    try:
        form = await request.form()  # parsed once: the route's own reading reuses it
    except Exception as error:  # a malformed body is the client's error, whatever the parser says
        raise UnreadableForm() from error
    for name, value in form.multi_items():
        multiline = name in MULTI_LINE_FORM_FIELDS
        for piece in (name,) if isinstance(value, UploadFile) else (name, value):
            character = text.control_character(
                text.normalized(piece, multiline=multiline), multiline=multiline
            )
            if character is not None:
                raise ControlCharacters(f"{name}: {text.refusal(character)}", field=name)
