"""Outcomes: pass / fail / inconclusive for one group, not assessed for an objective the
toolkit cannot observe, and the overall outcome over the assessed objectives.

Decision rules (docs/methods.md §9.6): with ``decision = "confidence"`` an objective passes
when its one-sided confidence bound lies on the right side of the limit and fails when the
bound on the other side lies on the wrong side; otherwise it is inconclusive and the reason
says what more data would decide it.  With ``decision = "literal"`` (regulator counting
rules) the sample value itself is compared with the limit.  Shares k/n are compared with
the limit in exact rational arithmetic (k·den versus num·n), so a campaign exactly at a
"≥ 95 %" limit passes and one test fewer fails, whatever floating point would say.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

import numpy as np
import pandas as pd

from qos.profiles import Objective
from qos_analysis.presentation import (
    comparison_symbol,
    format_interval,
    format_quantity,
)
from qos_analysis.scoring.explain import (
    infinite_bound_reason,
    more_samples_to_decide,
    prime_ratio_searches,
)
from qos_analysis.scoring.verdict import Outcome, Verdict

PASS = Outcome.PASS
FAIL = Outcome.FAIL
INCONCLUSIVE = Outcome.INCONCLUSIVE
NOT_ASSESSED = Outcome.NOT_ASSESSED


@dataclass(frozen=True, slots=True)
class GroupResult:
    """One (scope, window) group's statistic as the decision needs it."""

    n: int
    value: float
    lower: float
    upper: float
    count: int | None = None  # k of a share k/n, when the statistic is one


@dataclass(frozen=True, slots=True)
class Rule:
    """How an objective is decided: limit (exact and as a double), unit and rule."""

    limit: float
    exact_limit: Fraction
    unit: str
    decision: str
    literal_only: bool
    confidence: float
    favourable: str = "samples meeting the threshold"  # further samples of a ratio k/n


def decide(
    obj: Objective, group: GroupResult, rule: Rule, campaign: list[str] | None
) -> tuple[Outcome, str]:
    """The outcome of one group and the reason, in the units of the verdict table."""
    if group.n == 0 or math.isnan(group.value):
        return INCONCLUSIVE, "no usable samples in this window"
    if group.n < obj.min_samples:
        if _violated_for_good(obj, group, rule):
            return FAIL, (
                f"{group.count:,} of {group.n:,} > {format_quantity(rule.limit, rule.unit)}: "
                f"fails before min_samples {obj.min_samples}, further samples cannot undo it"
            )
        missing = obj.min_samples - group.n
        reason = (
            f"{group.n} sample(s) < min_samples {obj.min_samples}: "
            f"{missing:,} more sample(s) needed"
        )
        why_infinite = infinite_bound_reason(
            obj, group.n, group.lower, group.upper, rule.confidence
        )
        return INCONCLUSIVE, f"{reason}; {why_infinite}" if why_infinite else reason
    if campaign:
        return INCONCLUSIVE, "campaign does not meet the rules: " + "; ".join(campaign)
    if rule.decision == "literal" or rule.literal_only:
        return _decide_literal(obj, group, rule)
    return _decide_by_bounds(obj, group, rule)


def prepare_explanations(
    obj: Objective,
    rule: Rule,
    n: np.ndarray,
    count: np.ndarray | None,
    lower: np.ndarray,
    upper: np.ndarray,
) -> None:
    """Search, for all groups of an objective at once, how many further samples would
    decide each ratio k/n whose bounds leave it undecided, so that :func:`decide` finds
    the answers cached (:func:`~qos_analysis.scoring.explain.prime_ratio_searches`)."""
    if count is None or rule.decision == "literal" or rule.literal_only or not len(n):
        return
    n = np.asarray(n, dtype=np.int64)
    k = np.asarray(count, dtype=np.int64)
    with np.errstate(invalid="ignore"):
        if obj.comparison == "<=":
            decided = (upper <= rule.limit) | (lower > rule.limit)
        else:
            decided = (lower >= rule.limit) | (upper < rule.limit)
    open_ = ~decided & ~np.isnan(lower) & ~np.isnan(upper)
    open_ &= (n > 0) & (n >= obj.min_samples) & (k >= 0) & (k <= n)
    if open_.any():
        prime_ratio_searches(obj.comparison, k[open_], n[open_], rule.limit, rule.confidence)


def _violated_for_good(obj: Objective, group: GroupResult, rule: Rule) -> bool:
    """A ratio k/n of a metric whose single event is decisive (``decisive_event``: one
    manipulated integrity test) with limit "≤ 0" and k > 0: no number of further samples
    can bring it back to 0, so it fails whatever ``min_samples`` says."""
    return (
        obj.spec.decisive_event
        and group.count is not None
        and group.count > 0
        and obj.comparison == "<="
        and rule.exact_limit == 0
    )


def _meets_exactly(obj: Objective, group: GroupResult, limit: Fraction) -> bool:
    """value (op) limit, exactly for a share k/n (integer arithmetic), else as doubles."""
    le = obj.comparison == "<="
    if group.count is not None:
        left = group.count * limit.denominator
        right = limit.numerator * group.n
        return left <= right if le else left >= right
    value = Fraction(group.value) if math.isfinite(group.value) else None
    if value is None:
        return (group.value < 0) if le else (group.value > 0)
    return value <= limit if le else value >= limit


def _decide_literal(obj: Objective, group: GroupResult, rule: Rule) -> tuple[Outcome, str]:
    ok = _meets_exactly(obj, group, rule.exact_limit)
    sym = comparison_symbol(obj.comparison)
    shown = format_quantity(group.value, rule.unit)
    if group.count is not None:
        shown = f"{group.count:,}/{group.n:,} = {shown}"
    verb = "meets" if ok else "violates"
    limit = format_quantity(rule.limit, rule.unit)
    return (PASS if ok else FAIL), f"value {shown} {verb} {sym} {limit} (literal rule)"


def _limit_text(limit: float, unit: str) -> str:
    """The limit as reasons show it (the same for every group of an objective)."""
    return _limit_text_cached(limit, unit, math.copysign(1.0, limit) < 0)


@lru_cache(maxsize=256)
def _limit_text_cached(limit: float, unit: str, negative: bool) -> str:
    # ``negative`` keeps −0.0 apart from 0.0, which compare (and hash) equal.
    return format_quantity(limit, unit)


#: :func:`bound_outcomes` codes: not decided by a bound alone, pass, fail.
BY_BOUND_OPEN, BY_BOUND_PASS, BY_BOUND_FAIL = 0, 1, 2


def bound_outcomes(
    obj: Objective,
    rule: Rule,
    n: np.ndarray,
    value: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    campaign: Sequence[int] = (),
) -> np.ndarray:
    """Per group, what :func:`decide` would answer from the bounds alone, for all groups
    at once: :data:`BY_BOUND_PASS` / :data:`BY_BOUND_FAIL` where it reaches
    :func:`_decide_by_bounds` (samples present, at least ``min_samples``, no campaign
    problem — ``campaign`` lists the groups with one —, decided by confidence bounds) and
    a bound is on one side of the limit, else :data:`BY_BOUND_OPEN`."""
    out = np.full(len(n), BY_BOUND_OPEN, dtype=np.int8)
    if rule.decision == "literal" or rule.literal_only or not len(n):
        return out
    n = np.asarray(n).astype(np.int64)  # as the verdicts' n_samples
    with np.errstate(invalid="ignore"):
        reached = (n != 0) & ~np.isnan(value) & (n >= obj.min_samples)
        if obj.comparison == "<=":
            passed, failed = upper <= rule.limit, lower > rule.limit
        else:
            passed, failed = lower >= rule.limit, upper < rule.limit
    out[reached & failed] = BY_BOUND_FAIL
    out[reached & passed] = BY_BOUND_PASS  # the pass test comes first in decide()
    out[list(campaign)] = BY_BOUND_OPEN
    return out


def bound_verdict(
    comparison: str, code: int, lo: float, hi: float, rule: Rule
) -> tuple[Outcome, str]:
    """The outcome and reason of a group :func:`bound_outcomes` found decided (``code``),
    as :func:`decide` words them."""
    fmt, limit = rule.unit, _limit_text(rule.limit, rule.unit)
    if comparison == "<=":
        if code == BY_BOUND_PASS:
            return PASS, f"upper bound {format_quantity(hi, fmt)} ≤ limit {limit}"
        return FAIL, f"lower bound {format_quantity(lo, fmt)} > limit {limit}"
    if code == BY_BOUND_PASS:
        return PASS, f"lower bound {format_quantity(lo, fmt)} ≥ limit {limit}"
    return FAIL, f"upper bound {format_quantity(hi, fmt)} < limit {limit}"


def _decide_by_bounds(obj: Objective, group: GroupResult, rule: Rule) -> tuple[Outcome, str]:
    fmt = rule.unit
    limit = rule.limit
    lo, hi = group.lower, group.upper
    if obj.comparison == "<=":
        if hi <= limit:
            return bound_verdict(obj.comparison, BY_BOUND_PASS, lo, hi, rule)
        if lo > limit:
            return bound_verdict(obj.comparison, BY_BOUND_FAIL, lo, hi, rule)
    else:
        if lo >= limit:
            return bound_verdict(obj.comparison, BY_BOUND_PASS, lo, hi, rule)
        if hi < limit:
            return bound_verdict(obj.comparison, BY_BOUND_FAIL, lo, hi, rule)
    if math.isnan(lo) or math.isnan(hi):
        return INCONCLUSIVE, "not enough samples for a confidence bound"
    reason = (
        f"confidence interval {format_interval(lo, hi, fmt)} contains the limit "
        f"{_limit_text(limit, fmt)}: the sample cannot support a pass or a fail"
    )
    why_infinite = infinite_bound_reason(obj, group.n, lo, hi, rule.confidence)
    if why_infinite:
        reason += f"; {why_infinite}"
    needed = more_samples_to_decide(
        obj, group.n, group.count, rule.limit, rule.confidence, rule.favourable
    )
    if needed:
        reason += f"; {needed}"
    return INCONCLUSIVE, reason


@dataclass(frozen=True, slots=True)
class OverallOutcome:
    """The outcome over the assessed objectives, and which objectives were not assessed."""

    outcome: Outcome
    assessed: tuple[str, ...]
    not_assessed: tuple[str, ...]

    @property
    def text(self) -> str:
        """E.g. "pass on all 3 assessed objectives; 1 not assessed: iper"."""
        n = len(self.assessed)
        noun = "objective" if n == 1 else "objectives"
        if not n:
            head = "nothing assessed"
        elif self.outcome == PASS:
            head = f"pass on all {n} assessed {noun}"
        else:
            head = f"{self.outcome} over {n} assessed {noun}"
        if self.not_assessed:
            head += f"; {len(self.not_assessed)} not assessed: " + ", ".join(self.not_assessed)
        return head


def overall_outcome(verdicts: pd.DataFrame | Sequence[Verdict]) -> OverallOutcome:
    """``fail`` if any assessed verdict fails, ``pass`` only if every assessed verdict
    passes, else ``inconclusive``; objectives the toolkit cannot observe are listed as not
    assessed and do not hold the outcome at inconclusive forever.  With nothing assessed
    (or no verdicts) the outcome is inconclusive, never a pass.  Takes the verdict table
    or the typed verdicts."""
    if isinstance(verdicts, pd.DataFrame):
        pairs = list(zip(verdicts["objective"], verdicts["outcome"], strict=True))
    else:
        pairs = [(v.objective, v.outcome) for v in verdicts]
    if not pairs:
        return OverallOutcome(INCONCLUSIVE, (), ())
    not_assessed = tuple(dict.fromkeys(o for o, out in pairs if out == NOT_ASSESSED))
    assessed = tuple(dict.fromkeys(o for o, out in pairs if out != NOT_ASSESSED))
    outcomes = {out for _, out in pairs if out != NOT_ASSESSED}
    if FAIL in outcomes:
        result = FAIL
    elif outcomes == {PASS}:
        result = PASS
    else:
        result = INCONCLUSIVE
    return OverallOutcome(result, assessed, not_assessed)


def overall(verdicts: pd.DataFrame | Sequence[Verdict]) -> Outcome:
    """The overall outcome word (:func:`overall_outcome`)."""
    return overall_outcome(verdicts).outcome
