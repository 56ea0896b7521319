"""Executive summary rows and the "why not decided" list, from the report's verdicts.

A profile with a window (Y.1541: 1 min) gives one verdict per scope and window; a reader
needs one line per objective and scope.  Its outcome is the worst over the windows
(fail > inconclusive > pass > not assessed) and the line shows the window that sets it —
the one whose decisive confidence bound lies furthest on the wrong side of the limit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from qos_analysis.report.model import OUTCOME_WORDS, SummaryRow, Undecided, Verdict
from qos_analysis.stats.proportions import clopper_pearson_upper

_RANK = {"fail": 3, "inconclusive": 2, "pass": 1, "not assessed": 0}


def summary_rows(verdicts: Sequence[Verdict]) -> tuple[SummaryRow, ...]:
    """One row per (objective, scope, direction, period), in first-appearance order."""
    groups: dict[tuple[str, str, str, str | None], list[Verdict]] = {}
    for v in verdicts:
        groups.setdefault((v.objective, v.scope, v.direction, v.period), []).append(v)
    rows = []
    for (objective, scope, direction, period), members in groups.items():
        outcome = max((v.outcome for v in members), key=lambda o: _RANK.get(o, 2))
        counts = tuple(
            (word, sum(1 for v in members if v.outcome == word))
            for word in OUTCOME_WORDS
            if any(v.outcome == word for v in members)
        )
        decisive = max((v for v in members if v.outcome == outcome), key=_badness)
        rows.append(
            SummaryRow(
                objective=objective,
                title=members[0].title,
                scope=scope,
                direction=direction,
                period=period,
                outcome=outcome,
                windows=len(members),
                counts=counts,
                decisive=decisive,
            )
        )
    return tuple(rows)


def _badness(v: Verdict) -> float:
    """How far the decisive bound (else the value) lies past the limit; larger is worse."""
    x = v.bound if v.bound is not None else v.value
    if x is None or math.isnan(v.limit) or math.isnan(x):
        return -math.inf if v.n_samples else math.inf
    return x - v.limit if v.comparison == "<=" else v.limit - x


def undecided_rows(rows: Sequence[SummaryRow]) -> tuple[Undecided, ...]:
    """For every inconclusive objective × scope: the reason and what would decide it."""
    out = []
    for row in rows:
        if row.outcome != "inconclusive":
            continue
        v = row.decisive
        out.append(
            Undecided(
                objective=row.objective,
                scope=row.scope,
                direction=row.direction,
                windows=dict(row.counts).get("inconclusive", 0),
                reason=v.reason or "no reason recorded",
                needed=what_would_decide(v),
            )
        )
    return tuple(out)


def what_would_decide(v: Verdict) -> str:
    """Plain words for the data that would turn an inconclusive verdict into a decision."""
    per_window = "" if v.window == "all" else f" in each {v.window} window"
    reason = v.reason.lower()
    if "not observable" in reason:
        return "a measurement method for this metric; the toolkit cannot observe it"
    if "one_way_rule = refuse" in reason:
        return "one-way measurements (STAMP with synchronised clocks) or a profile rule for RTT"
    if reason.startswith("campaign"):
        return "a campaign that follows the rules (see the consumer evidence section)"
    if v.n_samples == 0:
        return "measurements of this metric" + (f" inside period '{v.period}'" if v.period else "")
    if v.n_samples < v.min_samples:
        more = v.min_samples - v.n_samples
        return f"{more:,} more sample(s){per_window} (min_samples {v.min_samples:,})"
    if v.metric == "loss_ratio" and v.comparison == "<=" and v.value is not None:
        extra = _loss_free_needed(v)
        if extra is not None:
            return f"{extra:,} more loss-free packets{per_window} to show a pass"
    if v.statistic.startswith("days_"):
        return "tests on more days"
    return f"more samples{per_window}: the confidence interval still contains the limit"


def _loss_free_needed(v: Verdict) -> int | None:
    """Loss-free packets to add so the one-sided Clopper–Pearson upper bound of the loss
    ratio falls to the limit (ITU-T Y.1541 Appendix: zero-failure counts; 2,995 for 10⁻³)."""
    limit = v.limit
    conf = v.confidence if 0 < v.confidence < 1 else 0.95  # NaN: the default confidence
    if not 0 < limit < 1:
        return None
    n = v.n_samples
    k = round((v.value or 0.0) * n)

    def passes(extra: int) -> bool:
        return bool(clopper_pearson_upper(k, n + extra, conf) <= limit)

    high = max(1, n)
    while not passes(high):
        high *= 2
        if high > 10**12:
            return None
    low = 0
    while low < high:
        mid = (low + high) // 2
        if passes(mid):
            high = mid
        else:
            low = mid + 1
    return low
