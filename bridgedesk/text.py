"""The one rule for text at the edge: which control characters a field may hold, and text made
safe for the places that have their own grammar (header values, file names).

Every API body (`bridgedesk.schemas.Strict`), every page form (`bridgedesk.forms`) and the CSV
site import apply `control_character` with the same sets, so a name, title, code, URI or
address holds no control character however it arrives.
"""

import re

# C0 controls and DEL. A single-line field (a name, a title, a URI, an address) holds none.
_SINGLE_LINE = re.compile(r"[\x00-\x1f\x7f]")
# A multi-line field (a note, a description) keeps TAB and LF: they are its structure.
_MULTI_LINE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# Anything a header would read as the end of its line, or as folding.
_HEADER_BREAKS = re.compile(r"[\x00-\x1f\x7f]+")


def normalized(value: str, *, multiline: bool) -> str:
    """Browsers send a textarea's line breaks as CRLF; a multi-line field stores them as LF."""
    return value.replace("\r\n", "\n") if multiline else value


def control_character(value: str, *, multiline: bool = False) -> str | None:
    """The first refused control character of `value` (already normalized), or None."""
    found = (_MULTI_LINE if multiline else _SINGLE_LINE).search(value)
    return found.group() if found else None


def refusal(character: str) -> str:
    """The message every edge gives for a refused control character."""
    return f"text may not contain control characters (found U+{ord(character):04X})"


def checked(value: str, *, multiline: bool = False) -> str:
    """`value` normalized, or ValueError naming the control character it holds."""
    value = normalized(value, multiline=multiline)
    character = control_character(value, multiline=multiline)
    if character is not None:
        raise ValueError(refusal(character))
    return value


def header_value(text: str) -> str:
    """Text for a header line (an email subject, a file name): control runs become one space.

    Stored text passed the edge rule, but rows written before it (or by a job) may not have;
    a header must never carry CR/LF whatever the row holds.
    """
    return _HEADER_BREAKS.sub(" ", text).strip()


def content_disposition(filename: str, *, inline: bool = True) -> str:
    """A Content-Disposition value whose quoted file name cannot end the header or the quote."""
    safe = header_value(filename).replace("\\", "_").replace('"', "'")
    return f'{"inline" if inline else "attachment"}; filename="{safe}"'
