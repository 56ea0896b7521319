"""Outcomes: pass / fail / inconclusive for one group, and the overall verdict
(docs/methods.md §9)."""

from __future__ import annotations

import math

import pandas as pd

from qos.profiles import Objective


def decide(
    obj: Objective,
    n: int,
    value: float,
    lower: float,
    upper: float,
    literal_only: bool,
    limit: float,
    decision: str,
    campaign: list[str] | None,
) -> tuple[str, str]:
    if n == 0 or math.isnan(value):
        return "inconclusive", "no usable samples in this window"
    if n < obj.min_samples:
        return "inconclusive", f"{n} sample(s) < min_samples {obj.min_samples}"
    if campaign:
        return "inconclusive", "campaign does not meet the rules: " + "; ".join(campaign)
    le = obj.comparison == "<="
    sym = "≤" if le else "≥"
    if decision == "literal" or literal_only:
        ok = value <= limit if le else value >= limit
        return (
            "pass" if ok else "fail",
            f"value {value:.6g} {'meets' if ok else 'violates'} {sym} {limit:.6g} (literal rule)",
        )
    if le:
        if upper <= limit:
            return "pass", f"upper bound {upper:.6g} ≤ limit {limit:.6g}"
        if lower > limit:
            return "fail", f"lower bound {lower:.6g} > limit {limit:.6g}"
    else:
        if lower >= limit:
            return "pass", f"lower bound {lower:.6g} ≥ limit {limit:.6g}"
        if upper < limit:
            return "fail", f"upper bound {upper:.6g} < limit {limit:.6g}"
    if math.isnan(lower) or math.isnan(upper):
        return "inconclusive", "not enough samples for a confidence bound"
    return (
        "inconclusive",
        f"confidence interval [{lower:.6g}, {upper:.6g}] contains the limit {limit:.6g}: "
        "the sample cannot support a pass or a fail",
    )


def overall(verdicts: pd.DataFrame) -> str:
    """``fail`` if any verdict fails, ``pass`` only if every verdict passes, else
    ``inconclusive`` (an empty table is inconclusive, never a pass)."""
    if verdicts.empty:
        return "inconclusive"
    outcomes = set(verdicts["outcome"])
    if "fail" in outcomes:
        return "fail"
    if outcomes == {"pass"}:
        return "pass"
    return "inconclusive"
