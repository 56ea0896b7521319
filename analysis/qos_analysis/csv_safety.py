"""Verdict and data frames written as CSV with every text cell protected
(:func:`qos.text_safety.protect_csv_cell`)."""

from __future__ import annotations

import pandas as pd

from qos.text_safety import protect_csv_cell


def protect_formula_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells cannot start a formula or a control sequence."""
    out = frame.copy()
    for column in out.columns:
        # Text is "object" in older pandas and the "str" (string) dtype in newer ones.
        dtype = out[column].dtype
        if pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype):
            out[column] = out[column].map(protect_csv_cell).astype(object)
    return out
