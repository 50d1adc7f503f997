"""CSV exports never hand a spreadsheet a formula."""

from __future__ import annotations

import pytest

from app.privacy.csv_export import spreadsheet_safe


@pytest.mark.parametrize("value", ['=HYPERLINK("http://evil")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\t=1"])
def test_formula_cells_are_escaped(value: str) -> None:
    assert spreadsheet_safe(value) == "'" + value


@pytest.mark.parametrize(("value", "expected"), [("Acme", "Acme"), (None, ""), (-12.5, "-12.5"), (40, "40")])
def test_plain_values_and_numbers_are_kept(value: object, expected: str) -> None:
    assert spreadsheet_safe(value) == expected
