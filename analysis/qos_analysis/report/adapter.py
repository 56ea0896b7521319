"""The one place where the scoring engine's verdicts enter the report.

:func:`adapt_verdicts` turns the verdict table returned by :func:`qos_analysis.scoring.score`
(a DataFrame, the Dask engine's table, or any iterable of mappings or attribute records)
back into the engine's own :class:`~qos_analysis.scoring.verdict.Verdict` records, with
neutralised strings, plain floats (a missing limit or confidence is NaN) and UTC
timestamps.  Outcome words become :class:`~qos_analysis.scoring.verdict.Outcome`;
``"not assessed"`` (or ``not_assessed``) is accepted, anything unknown is reported as
``inconclusive`` — never as a pass.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from qos_analysis.report.text import clean, clean_name
from qos_analysis.scoring.verdict import OUTCOMES, Outcome, Verdict

_NAMES = ("agent_id", "collector", "target", "scope", "objective", "direction")


def adapt_verdicts(verdicts: Any) -> tuple[Verdict, ...]:
    """Verdict rows (DataFrame, mappings or records) → report verdicts, in table order."""
    if hasattr(verdicts, "columns") and hasattr(verdicts, "__getitem__"):
        return _frame_verdicts(verdicts)
    return tuple(_verdict(row) for row in _rows(verdicts))


def _rows(verdicts: Any) -> Iterable[Mapping[str, Any]]:
    rows: list[Mapping[str, Any]] = []
    for item in verdicts:
        if isinstance(item, Mapping):
            rows.append(item)
        elif dataclasses.is_dataclass(item) and not isinstance(item, type):
            rows.append(dataclasses.asdict(item))
        else:
            rows.append(vars(item))
    return rows


def _text(key: str) -> Callable[[Any], str]:
    name = key in _NAMES

    def convert(value: Any) -> str:
        value = _missing_to_none(value)
        if value is None:
            return ""
        return clean_name(value) if name else clean(value)

    return convert


def _period(value: Any) -> str | None:
    value = _missing_to_none(value)
    return None if value is None else clean_name(value)


def _bool(value: Any) -> bool:
    return bool(_missing_to_none(value) or False)


def _missing_to_none(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if type(value).__name__ in ("NaTType", "NAType"):
        return None
    return value


def _outcome(value: Any) -> Outcome:
    word = str(_missing_to_none(value) or "").strip().lower().replace("_", " ")
    return Outcome(word) if word in OUTCOMES else Outcome.INCONCLUSIVE


def _float(value: Any) -> float | None:
    value = _missing_to_none(value)
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _float_or_nan(value: Any) -> float:
    number = _float(value)
    return math.nan if number is None else number


def _int(value: Any) -> int:
    number = _float(value)
    return 0 if number is None or math.isinf(number) else int(number)


def _time(value: Any) -> datetime | None:
    """A window boundary as an aware UTC timestamp; text that is no time → ``None``."""
    import pandas as pd

    value = _missing_to_none(value)
    if value is None:
        return None
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        return None
    if pd.isna(stamp):
        return None
    return stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert(UTC)


_FLOATS = ("value", "lower_bound", "upper_bound", "ci_low", "ci_high")
_NAN_FLOATS = ("limit", "confidence")  # always a number in a verdict: NaN when missing
_INTS = ("n_samples", "min_samples", "n_tests", "excluded_tests")
_FIELDS = tuple(f.name for f in dataclasses.fields(Verdict))
_CONVERT: dict[str, Callable[[Any], Any]] = {
    **{f: _text(f) for f in _FIELDS},
    **{f: _float for f in _FLOATS},
    **{f: _float_or_nan for f in _NAN_FLOATS},
    **{f: _int for f in _INTS},
    "window_start": _time,
    "window_end": _time,
    "period": _period,
    "outcome": _outcome,
    "verified": _bool,
    "approximate": _bool,
}


def _verdict(row: Mapping[str, Any]) -> Verdict:
    return Verdict(**{f: _CONVERT[f](row.get(f)) for f in _FIELDS})


def _frame_verdicts(frame: Any) -> tuple[Verdict, ...]:
    """Column by column: each distinct value is converted (and cleaned) once, floats and
    timestamps in vectorised calls — a wide table of 30,000 rows takes a fraction of a
    second instead of the seconds of ``to_dict("records")`` and per-cell cleaning."""
    columns = [_column(frame, f, len(frame)) for f in _FIELDS]
    return tuple(Verdict(*values) for values in zip(*columns, strict=True))


def _column(frame: Any, field: str, n: int) -> list[Any]:
    import numpy as np
    import pandas as pd

    convert = _CONVERT[field]
    if field not in frame.columns:
        return [convert(None)] * n
    series = frame[field]
    if field in _FLOATS or field in _NAN_FLOATS:
        numbers = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
        if field in _NAN_FLOATS:
            return list(numbers.tolist())
        return [None if x != x else x for x in numbers.tolist()]  # NaN → None
    if field in ("window_start", "window_end"):
        stamps = pd.to_datetime(series, utc=True, errors="coerce")
        return [None if pd.isna(t) else t for t in stamps.tolist()]
    seen: dict[Any, Any] = {}
    out = []
    for value in series.tolist():
        try:
            out.append(seen[value])
        except (KeyError, TypeError):
            converted = convert(value)
            with contextlib.suppress(TypeError):  # unhashable values are not cached
                seen[value] = converted
            out.append(converted)
    return out
