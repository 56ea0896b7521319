"""The parts of a verdict every verdict of an objective shares (docs/methods.md §9); the
columns themselves are the fields of :class:`~qos_analysis.scoring.verdict.Verdict`."""

from __future__ import annotations

from typing import Any

from qos.profiles import Objective, Profile
from qos_analysis.scoring.verdict import OUTCOMES, VERDICT_COLUMNS, Outcome

__all__ = ["OUTCOMES", "VERDICT_COLUMNS", "base_row", "format_window", "join_notes"]


def format_window(window_s: float | None) -> str:
    if window_s is None:
        return "all"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if window_s % size == 0:
            return f"{int(window_s // size)}{unit}"
    return f"{window_s:g}s"


def join_notes(first: str, rest: list[str]) -> str:
    return "; ".join(n for n in [first, *rest] if n)


def base_row(
    prof: Profile, obj: Objective, window_s: float | None, limit: float, conf: float, decision: str
) -> dict[str, Any]:
    """Every field of the objective's verdicts, as for a verdict over no group ("*")."""
    if obj.statistic == "share":
        unit = "ratio"
    elif obj.statistic.startswith("days_"):
        unit = "days"
    else:
        unit = obj.spec.unit
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
        "outcome": Outcome.INCONCLUSIVE,
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
