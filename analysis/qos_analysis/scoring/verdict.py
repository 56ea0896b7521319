"""The typed verdict: one :class:`Verdict` per (objective, scope, window), its
:class:`Outcome`, and the verdict table (a DataFrame) built from verdicts as a view
(docs/methods.md §9)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from enum import StrEnum

import numpy as np
import pandas as pd


class Outcome(StrEnum):
    """A verdict's outcome; the values are the words of the verdict table and JSON."""

    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"
    NOT_ASSESSED = "not assessed"


@dataclass(frozen=True, slots=True)
class Verdict:
    """One objective judged on one (scope, window) group — a row of the verdict table.

    Quantities are in base units (s, bit/s, ratio; ``unit`` says which).  ``value`` is the
    statistic; ``lower_bound``/``upper_bound`` its one-sided confidence bounds
    (``bound_method``), ``ci_low``/``ci_high`` the two-sided interval where one is
    reported; ``rule`` and ``approximate`` name a round-trip stand-in for a one-way
    objective; ``reason`` says why the outcome is what it is.
    """

    profile: str
    objective: str
    title: str
    metric: str
    statistic: str
    scope: str
    agent_id: str | None
    collector: str | None
    target: str | None
    direction: str
    window: str
    window_start: datetime | None
    window_end: datetime | None
    period: str | None
    value: float | None
    unit: str
    comparison: str
    limit: float
    outcome: Outcome
    reason: str
    lower_bound: float | None
    upper_bound: float | None
    bound_method: str
    confidence: float
    ci_low: float | None
    ci_high: float | None
    n_samples: int
    min_samples: int
    n_tests: int
    excluded_tests: int
    clause: str
    source: str
    verified: bool
    approximate: bool
    rule: str
    decision: str
    note: str

    @property
    def bound(self) -> float | None:
        """The confidence bound that decides the comparison (upper for ≤, lower for ≥)."""
        return self.upper_bound if self.comparison == "<=" else self.lower_bound


VERDICT_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(Verdict))
OUTCOMES = tuple(o.value for o in Outcome)

_OPTIONAL_FLOATS = ("value", "lower_bound", "upper_bound", "ci_low", "ci_high")
_FLOATS = ("limit", "confidence")
_INTS = ("n_samples", "min_samples", "n_tests", "excluded_tests")
_BOOLS = ("verified", "approximate")
_TIMES = ("window_start", "window_end")


def optional_floats(values: np.ndarray) -> list[float | None]:
    """NaN → None (a quantity that does not exist), the rest as Python floats."""
    out = np.asarray(values, dtype=object)
    out[np.isnan(np.asarray(values, dtype=np.float64))] = None
    return out.tolist()  # ndarray.tolist() is typed Any: a list of float and None here


def _column(name: str, values: list[object] | pd.Series) -> object:
    if isinstance(values, pd.Series):  # already typed (window bounds of verdict blocks)
        return values
    if name == "outcome":
        return pd.Series([str(v) for v in values])
    if name in _OPTIONAL_FLOATS:
        return pd.Series(values, dtype=object)
    if name in _FLOATS:
        return np.asarray(values, dtype=np.float64)
    if name in _INTS:
        return np.asarray(values, dtype=np.int64)
    if name in _BOOLS:
        return np.asarray(values, dtype=bool)
    if name in _TIMES:
        return pd.to_datetime(pd.Series(values, dtype=object), utc=True)
    # Text: a string column, or objects when some value is missing (None).
    return pd.Series(values, dtype=object) if None in values else pd.Series(values)


def verdicts_frame(verdicts: Sequence[Verdict]) -> pd.DataFrame:
    """The verdict table: one row per verdict, columns :data:`VERDICT_COLUMNS`."""
    return columns_frame({name: [getattr(v, name) for v in verdicts] for name in VERDICT_COLUMNS})


def columns_frame(columns: Mapping[str, list[object] | pd.Series]) -> pd.DataFrame:
    """The verdict table from one list per field of :data:`VERDICT_COLUMNS` (the values
    :class:`Verdict` holds), typed as :func:`verdicts_frame` types them; a column given as
    a Series is taken as typed."""
    if not columns or not len(columns[VERDICT_COLUMNS[0]]):
        frame = pd.DataFrame(columns=list(VERDICT_COLUMNS))
        for name in _TIMES:
            frame[name] = pd.to_datetime(frame[name], utc=True)
        return frame
    return pd.DataFrame({name: _column(name, columns[name]) for name in VERDICT_COLUMNS})
