"""Every CSV the service writes goes through here, so that no cell runs as a formula.

A spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` (and some read one that starts
with TAB or CR the same way), so such a text cell is written with a leading apostrophe, which
spreadsheets show as text. Numbers are written as they are: an int, a Decimal or a float, or
text that is a plain decimal number (`-12.00`, a credit line) cannot run as a formula, and an
apostrophe would turn the amount into text that no longer adds up. Only text is neutralized.
"""

import csv
import io
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def neutralized(cell: object) -> object:
    """The cell as it may be written: numbers unchanged, formula-like text behind a `'`."""
    if cell is None or isinstance(cell, bool | int | float | Decimal):
        return cell
    text = str(cell)
    if text.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def csv_text(rows: Iterable[Sequence[object]]) -> str:
    """The rows as CSV text (LF line ends), every cell through `neutralized`."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in rows:
        writer.writerow([neutralized(cell) for cell in row])
    return out.getvalue()
