"""Spreadsheet formula injection (CSV injection): text that a spreadsheet would run as a formula.

A cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is taken by Excel, LibreOffice and
Google Sheets as a formula, which can run commands or send data away when a clinician opens the file. Per the OWASP
"CSV Injection" rule (owasp.org/www-community/attacks/CSV_Injection), every text cell OpenIDDS writes to a CSV file
(the registry's exports, the report's tables) is neutralised by prefixing a single quote, so it shows as text;
numbers are left as numbers (a negative number is not text and is not changed). Imports keep such text as given and
report it as a warning.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

#: The first characters that make a spreadsheet read a cell as a formula (OWASP CSV Injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
ESCAPE = "'"


def is_formula(value: Any) -> bool:
    """Whether ``value`` is text a spreadsheet would read as a formula."""
    return isinstance(value, str) and value.startswith(FORMULA_STARTS)


def neutralised(value: Any) -> Any:
    """``value`` with a single quote before it if it is formula text; any other value unchanged."""
    return ESCAPE + value if is_formula(value) else value


def neutralised_row(cells: Iterable[Any]) -> list[Any]:
    """A row of cells ready for a CSV writer, each neutralised."""
    return [neutralised(cell) for cell in cells]


def neutralised_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells are neutralised (columns of numbers, dates or booleans untouched)."""
    out = frame.copy()
    for name in out.columns:
        if out[name].dtype == object:
            out[name] = out[name].map(neutralised)
    return out
