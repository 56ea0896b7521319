"""The one place where the scoring engine's verdicts enter the report.

:func:`adapt_verdicts` turns the verdict table returned by :func:`qos_analysis.scoring.score`
(a DataFrame today; any iterable of mappings or attribute records works too) into
:class:`~qos_analysis.report.model.Verdict` records with neutralised strings and plain
floats.  Outcomes are kept as words; ``"not assessed"`` (or ``not_assessed``) is accepted and
normalised, anything unknown is reported as ``inconclusive`` — never as a pass.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from datetime import UTC
from typing import Any

from qos_analysis.report.model import OUTCOME_WORDS, Verdict
from qos_analysis.report.text import clean, clean_name

_ISO = "%Y-%m-%dT%H:%M:%SZ"
_NAMES = ("agent_id", "collector", "target", "scope", "objective", "direction")


def adapt_verdicts(verdicts: Any) -> tuple[Verdict, ...]:
    """Verdict rows (DataFrame, mappings or records) → report verdicts, in table order."""
    return tuple(_verdict(row) for row in _rows(verdicts))


def overall_outcome(verdicts: Iterable[Verdict]) -> str:
    """``fail`` if any verdict fails; ``pass`` if every assessed verdict passes; otherwise
    ``inconclusive`` — the rule of :func:`qos_analysis.scoring.overall`, where an empty table
    and a table of only not-assessed verdicts are inconclusive, never a pass."""
    outcomes = {v.outcome for v in verdicts}
    if "fail" in outcomes:
        return "fail"
    assessed = outcomes - {"not assessed"}
    if assessed == {"pass"}:
        return "pass"
    return "inconclusive"


def _rows(verdicts: Any) -> Iterable[Mapping[str, Any]]:
    if hasattr(verdicts, "to_dict") and hasattr(verdicts, "columns"):
        return _frame_rows(verdicts)
    rows: list[Mapping[str, Any]] = []
    for item in verdicts:
        if isinstance(item, Mapping):
            rows.append(item)
        elif dataclasses.is_dataclass(item) and not isinstance(item, type):
            rows.append(dataclasses.asdict(item))
        else:
            rows.append(vars(item))
    return rows


def _frame_rows(frame: Any) -> list[dict[str, Any]]:
    """Column-wise conversion (``to_dict("records")`` is slow on wide frames); timestamps
    are formatted in one vectorised call per column."""
    import pandas as pd

    names = list(frame.columns)
    columns = []
    for name in names:
        series = frame[name]
        if name in ("window_start", "window_end"):
            stamps = pd.to_datetime(series, utc=True)
            text = stamps.dt.strftime(_ISO).tolist()
            columns.append([None if pd.isna(t) else t for t in text])
        else:
            columns.append(series.tolist())
    return [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]


def _verdict(row: Mapping[str, Any]) -> Verdict:
    def text(key: str, limit: int | None = None) -> str:
        value = _missing_to_none(row.get(key))
        if value is None:
            return ""
        return clean_name(value) if key in _NAMES else clean(value, limit or 2000)

    period = _missing_to_none(row.get("period"))
    return Verdict(
        objective=text("objective"),
        title=text("title"),
        metric=text("metric"),
        statistic=text("statistic"),
        scope=text("scope"),
        agent_id=text("agent_id"),
        collector=text("collector"),
        target=text("target"),
        direction=text("direction"),
        window=text("window"),
        window_start=_iso(row.get("window_start")),
        window_end=_iso(row.get("window_end")),
        period=None if period is None else clean_name(period),
        outcome=_outcome(row.get("outcome")),
        value=_float(row.get("value")),
        unit=text("unit"),
        comparison=text("comparison"),
        limit=_float(row.get("limit")),
        lower_bound=_float(row.get("lower_bound")),
        upper_bound=_float(row.get("upper_bound")),
        bound_method=text("bound_method"),
        confidence=_float(row.get("confidence")),
        ci_low=_float(row.get("ci_low")),
        ci_high=_float(row.get("ci_high")),
        n_samples=_int(row.get("n_samples")),
        min_samples=_int(row.get("min_samples")),
        n_tests=_int(row.get("n_tests")),
        excluded_tests=_int(row.get("excluded_tests")),
        clause=text("clause"),
        source=text("source"),
        verified=bool(_missing_to_none(row.get("verified")) or False),
        approximate=bool(_missing_to_none(row.get("approximate")) or False),
        rule=text("rule"),
        decision=text("decision"),
        reason=text("reason"),
        note=text("note"),
    )


def _missing_to_none(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if type(value).__name__ in ("NaTType", "NAType"):
        return None
    return value


def _outcome(value: Any) -> str:
    word = str(_missing_to_none(value) or "").strip().lower().replace("_", " ")
    return word if word in OUTCOME_WORDS else "inconclusive"


def _float(value: Any) -> float | None:
    value = _missing_to_none(value)
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _int(value: Any) -> int:
    number = _float(value)
    return 0 if number is None or math.isinf(number) else int(number)


def _iso(value: Any) -> str | None:
    value = _missing_to_none(value)
    if value is None:
        return None
    if isinstance(value, str):
        return clean_name(value)
    if hasattr(value, "strftime"):
        if getattr(value, "tzinfo", None) is not None and hasattr(value, "astimezone"):
            value = value.astimezone(UTC)
        return str(value.strftime(_ISO))
    return clean_name(value)
