"""CSV injection: a cell a spreadsheet would run as a formula is written as text."""

from __future__ import annotations

import pytest

from web.csv_stream import safe_cell


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+49 30 1234", "'+49 30 1234"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=cmd", "'\t=cmd"),
        ("\r=cmd", "'\r=cmd"),
        ("Ada = great", "Ada = great"),
        ("2026-12-01T08:00:00Z", "2026-12-01T08:00:00Z"),
        (None, ""),
        (4, 4),
    ],
)
def test_formulas_are_neutralised(value: object, written: object) -> None:
    assert safe_cell(value) == written
