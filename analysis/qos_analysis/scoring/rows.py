"""The verdict table's columns and the parts of a row every objective shares
(docs/methods.md §9)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from qos.profiles import Objective, Profile

VERDICT_COLUMNS = (
    "profile",
    "objective",
    "title",
    "metric",
    "statistic",
    "scope",
    "agent_id",
    "collector",
    "target",
    "direction",
    "window",
    "window_start",
    "window_end",
    "period",
    "value",
    "unit",
    "comparison",
    "limit",
    "outcome",
    "reason",
    "lower_bound",
    "upper_bound",
    "bound_method",
    "confidence",
    "ci_low",
    "ci_high",
    "n_samples",
    "min_samples",
    "n_tests",
    "excluded_tests",
    "clause",
    "source",
    "verified",
    "approximate",
    "rule",
    "decision",
    "note",
)
OUTCOMES = ("pass", "fail", "inconclusive", "not assessed")
_UNITS = {"duration": "s", "rate": "bit/s", "ratio": "ratio"}


def format_window(window_s: float | None) -> str:
    if window_s is None:
        return "all"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if window_s % size == 0:
            return f"{int(window_s // size)}{unit}"
    return f"{window_s:g}s"


def nan_to_none(values: np.ndarray) -> np.ndarray:
    out = np.asarray(values, dtype=object)
    out[pd.isna(np.asarray(values, dtype=np.float64))] = None
    return out


def join_notes(first: str, rest: list[str]) -> str:
    return "; ".join(n for n in [first, *rest] if n)


def base_row(
    prof: Profile, obj: Objective, window_s: float | None, limit: float, conf: float, decision: str
) -> dict[str, Any]:
    if obj.statistic == "share":
        unit = "ratio"
    elif obj.statistic.startswith("days_"):
        unit = "days"
    else:
        unit = _UNITS[obj.spec.dimension]
    return {
        "profile": prof.id,
        "objective": obj.id,
        "title": obj.title,
        "metric": obj.metric,
        "statistic": obj.statistic
        if obj.percentile is None or obj.statistic != "percentile"
        else f"p{float(obj.percentile * 100):g}",
        "scope": "*",
        "agent_id": None,
        "collector": None,
        "target": None,
        "direction": "",
        "window": format_window(window_s),
        "window_start": None,
        "window_end": None,
        "period": obj.period,
        "value": None,
        "unit": unit,
        "comparison": obj.comparison,
        "limit": limit,
        "outcome": "inconclusive",
        "reason": "",
        "lower_bound": None,
        "upper_bound": None,
        "bound_method": "",
        "confidence": conf,
        "ci_low": None,
        "ci_high": None,
        "n_samples": 0,
        "min_samples": obj.min_samples,
        "n_tests": 0,
        "excluded_tests": 0,
        "clause": obj.clause,
        "source": f"{prof.source.document} ({prof.source.edition})",
        "verified": bool(obj.verified and prof.source.verified),
        "approximate": False,
        "rule": "",
        "decision": decision,
        "note": obj.note,
    }
