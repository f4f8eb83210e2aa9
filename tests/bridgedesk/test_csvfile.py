"""The kernel's CSV writer: text that a spreadsheet would run is neutralized, numbers are not
(a credit of -12.00 still adds up)."""

import csv
import io
from decimal import Decimal

import pytest

from bridgedesk.csvfile import csv_text, neutralized


@pytest.mark.parametrize(
    "cell",
    ["=1+1", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\t=1", "\r=1", '=HYPERLINK("x")', "-"],
)
def test_formula_text_is_neutralized(cell):
    assert neutralized(cell) == "'" + cell


@pytest.mark.parametrize("cell", [-12, Decimal("-12.00"), "-12.00", "12.5", "0", 3.25, None, "Lee"])
def test_numbers_and_plain_text_are_left_alone(cell):
    assert neutralized(cell) == cell


def test_a_credit_line_still_adds_up():
    text = csv_text([["line", "charges"], ["=evil()", "10.00"], ["credit", "-12.00"]])
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows[0]["line"] == "'=evil()"
    assert sum(Decimal(r["charges"]) for r in rows) == Decimal("-2.00")
