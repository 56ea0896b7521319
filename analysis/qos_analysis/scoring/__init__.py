"""Scoring: a threshold profile × windowed statistics → one verdict per (scope, window,
objective) (docs/architecture.md §2.7).

Outcomes (docs/methods.md §9):

* ``decision = "confidence"`` (default): for "statistic ≤ limit" the verdict is ``pass``
  when the one-sided upper confidence bound is ≤ limit, ``fail`` when the one-sided lower
  bound is > limit, otherwise ``inconclusive`` (mirrored for "≥").  Bounds: Clopper–Pearson
  for ratios and shares (§9.1), distribution-free order statistics for percentiles and the
  IPDV pseudo-range (§9.3), Student t for means (a normal approximation, named as such).
  So IPLR ≤ 10⁻³ passes only with ≥ 2995 loss-free packets (§9.2).
* ``decision = "literal"``: regulator counting rules are legal tests and are applied
  literally to the sample; the Clopper–Pearson interval of the underlying proportion is
  reported next to them (§9.4).
* Always ``inconclusive``: fewer samples than ``min_samples``, no samples, a metric the
  toolkit cannot observe, a campaign that breaks the regulator's rules, a one-way
  objective on round-trip data with ``one_way_rule = "refuse"``.  Never a silent pass.

Round-trip data against a one-way objective uses the named rule (``rtt-half``: one-way
delay ≈ RTT/2, IPDV/jitter of RTT/2; loss counted over the round trip) and the verdict is
flagged ``approximate``.  STAMP data with valid one-way delays in both directions and
a known direction for every loss is scored as measured, one verdict per direction
(:func:`qos_analysis.populations.directional_population`).

Modules, one job each: :mod:`~qos_analysis.scoring.engine` (``score_verdicts``, and
``score``, the verdict table as a view of them), :mod:`~qos_analysis.scoring.run` (one
run's populations, windows and sorted samples), :mod:`~qos_analysis.scoring.objective`
(one objective → its verdicts, step by step, as a column-wise
:class:`~qos_analysis.scoring.block.VerdictBlock`), :mod:`~qos_analysis.scoring.rules`
(round-trip vs one-way rules), :mod:`~qos_analysis.scoring.evaluators` (the evaluator
registry the metric catalogue names: statistics and confidence bounds),
:mod:`~qos_analysis.scoring.counting` (threshold shares and regulator day-counting rules),
:mod:`~qos_analysis.scoring.jitter` (per-measurement RFC 3550 jitter),
:mod:`~qos_analysis.scoring.decide` (pass / fail / inconclusive, :func:`overall`),
:mod:`~qos_analysis.scoring.verdict` (:class:`Outcome`, :class:`Verdict`,
:func:`verdicts_frame`) and :mod:`~qos_analysis.scoring.rows` (the fields an objective's
verdicts share).  Rows are grouped by the windowing engine of
:mod:`qos_analysis.stats.windows`.  The public names are re-exported here.
"""

from qos_analysis.scoring.decide import OverallOutcome, overall, overall_outcome
from qos_analysis.scoring.engine import score, score_verdicts
from qos_analysis.scoring.rules import RULE_DIRECTIONAL, RULE_RT_LOSS, RULE_RTT_HALF
from qos_analysis.scoring.verdict import (
    OUTCOMES,
    VERDICT_COLUMNS,
    Outcome,
    Verdict,
    verdicts_frame,
)

__all__ = [
    "OUTCOMES",
    "RULE_DIRECTIONAL",
    "RULE_RTT_HALF",
    "RULE_RT_LOSS",
    "VERDICT_COLUMNS",
    "Outcome",
    "OverallOutcome",
    "Verdict",
    "overall",
    "overall_outcome",
    "score",
    "score_verdicts",
    "verdicts_frame",
]
