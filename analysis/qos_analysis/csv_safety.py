"""CSV cells that a spreadsheet would run as formulas, neutralised.

A cell starting with ``=``, ``+``, ``-``, ``@`` (or a tab / carriage return that some
spreadsheets skip before such a character) is executed as a formula when the file is
opened in a spreadsheet (OWASP "CSV Injection").  Strings from data — targets, labels,
reasons — are prefixed with a single quote, the convention spreadsheets display as text.
Numbers are left alone: a negative number is data, not a formula.
"""

from __future__ import annotations

import pandas as pd

from qos_analysis.presentation import neutralize

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def protect_cell(value: object) -> object:
    """A string cell made inert for spreadsheets; other values unchanged."""
    if not isinstance(value, str):
        return value
    text = neutralize(value, max_length=10_000)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def protect_formula_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells cannot start a formula or a control sequence."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object:
            out[column] = out[column].map(protect_cell)
    return out
