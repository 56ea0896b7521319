"""One objective of a profile → its verdicts, one per (scope, window), in steps of one
job each: resolve the objective's settings, choose its population and samples, group the
rows by (scope, window), compute the statistic, decide each group."""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

import pandas as pd

from qos.profiles import Objective, Profile
from qos_analysis.campaign import campaign_problems
from qos_analysis.populations import Population
from qos_analysis.scoring.block import VerdictBlock
from qos_analysis.scoring.decide import (
    GroupResult,
    Rule,
    bound_outcomes,
    bound_verdict,
    decide,
    prepare_explanations,
)
from qos_analysis.scoring.evaluators import EvalInput, compute_statistic
from qos_analysis.scoring.rows import base_row, join_notes
from qos_analysis.scoring.rules import Samples, samples_for
from qos_analysis.scoring.run import ScoringRun, WindowKey
from qos_analysis.scoring.stat import Stat
from qos_analysis.scoring.verdict import Outcome, Verdict, optional_floats
from qos_analysis.stats.windows import Windows

_REFUSED = (
    "round-trip data cannot be scored against a one-way objective "
    "(one_way_rule = refuse): one-way measurements (STAMP with synchronised "
    "clocks) would decide it"
)
_TZ_UNKNOWN = "agent time zone unknown for some data: local-time rules evaluated in UTC"


@dataclass(frozen=True)
class Resolved:
    """An objective with the run's settings resolved: window, confidence, limits and the
    fields every verdict of the objective shares (``base``)."""

    obj: Objective
    window_s: float | None
    conf: float
    limit: float
    exact_limit: Fraction
    threshold: float | None
    decision: str
    base: dict[str, Any]

    def verdict(self, **fields: Any) -> Verdict:
        """A verdict of this objective: the shared fields with ``fields`` changed."""
        return Verdict(**{**self.base, **fields})


def resolve(run: ScoringRun, obj: Objective, window_s: float | None) -> Resolved:
    prof, params = run.profile, run.params
    conf = run.confidence or obj.confidence or prof.confidence
    limit = obj.limit.resolve(params)
    threshold = obj.threshold.resolve(params) if obj.threshold is not None else None
    decision = obj.decision or prof.decision
    base = base_row(prof, obj, window_s, limit, conf, decision)
    exact = obj.limit.resolve_exact(params)
    return Resolved(obj, window_s, conf, limit, exact, threshold, decision, base)


def score_objective(run: ScoringRun, obj: Objective, window_s: float | None) -> VerdictBlock:
    """The verdicts of ``obj``: one per (scope, window), or one "*" verdict saying why
    there is nothing to judge."""
    res = resolve(run, obj, window_s)
    if not obj.spec.observable:
        return VerdictBlock.from_verdicts([_not_observable(res)])
    pop_key, pop = run.population(obj)
    samples = samples_for(run.profile, obj, pop)
    if samples.refused:
        verdict = res.verdict(rule=samples.rule, approximate=True, reason=_REFUSED)
        return VerdictBlock.from_verdicts([verdict])
    local_time = _needs_local_time(run.profile, obj, window_s)
    period = run.profile.periods.get(obj.period) if obj.period else None
    window_key, win = run.windows(pop_key, pop, window_s, period, local_time)
    notes = list(pop.notes)
    if win.tz_unknown and local_time:
        notes.append(_TZ_UNKNOWN)
    if win.n_groups == 0:
        return VerdictBlock.from_verdicts([_no_samples(res, pop, samples, notes)])
    stat = _statistic(run, res, pop, samples, window_key, win)
    shared = run.group_fields(window_key, lambda: _window_fields(pop, win))
    return _group_verdicts(run.profile, res, pop, samples, win, stat, notes, shared)


def _needs_local_time(prof: Profile, obj: Objective, window_s: float | None) -> bool:
    """Local-time rules: periods, calendar-day counting, whole-day windows, campaigns."""
    return (
        obj.period is not None
        or obj.statistic.startswith("days_")
        or (window_s is not None and window_s % 86400 == 0)
        or prof.campaign is not None
    )


def _not_observable(res: Resolved) -> Verdict:
    obj = res.obj
    return res.verdict(
        outcome=Outcome.NOT_ASSESSED,
        reason=f"not assessed: metric '{obj.metric}' is not observable by "
        f"this toolkit ({obj.spec.description})",
    )


def _no_samples(res: Resolved, pop: Population, samples: Samples, notes: list[str]) -> Verdict:
    obj = res.obj
    why = "no samples for this metric in the data"
    if obj.period is not None and len(pop):
        why = f"no samples inside period '{obj.period}'"
    return res.verdict(
        reason=why,
        rule=samples.rule,
        approximate=samples.approximate,
        note=join_notes(obj.note, notes),
    )


def _statistic(
    run: ScoringRun,
    res: Resolved,
    pop: Population,
    samples: Samples,
    window_key: WindowKey,
    win: Windows,
) -> Stat:
    def sorted_groups(lost: str) -> Any:
        return run.sorted_groups(window_key, samples, lost)

    return compute_statistic(
        EvalInput(
            res.obj,
            win.codes,
            win.n_groups,
            samples,
            win.sel,
            res.conf,
            res.threshold,
            win.local_us,
            pop.measurement,
            sorted_groups,
        )
    )


def _group_verdicts(
    prof: Profile,
    res: Resolved,
    pop: Population,
    samples: Samples,
    win: Windows,
    stat: Stat,
    notes: list[str],
    shared: dict[str, Any],
) -> VerdictBlock:
    """Decide every (scope, window) group; the verdicts as columns (``shared``: the
    fields of the groups that do not depend on the objective, :func:`_window_fields`)."""
    obj, n_groups = res.obj, win.n_groups
    breaches = campaign_problems(prof.campaign, win.codes, n_groups, pop, win.sel, win.local_us)
    unit = str(res.base["unit"])
    rule = Rule(res.limit, res.exact_limit, unit, res.decision, stat.literal_only, res.conf)
    if stat.favourable:
        rule = replace(rule, favourable=stat.favourable)
    prepare_explanations(obj, rule, stat.n, stat.count, stat.lower, stat.upper)
    columns = {**shared, **_stat_fields(stat, n_groups)}
    n_list = columns["n_samples"]
    k_list = stat.count.tolist() if stat.count is not None else [None] * n_groups
    v_list, lo_list, hi_list = stat.value.tolist(), stat.lower.tolist(), stat.upper.tolist()
    # Groups a bound decides outright are worded directly; the others go through decide().
    by_bound = bound_outcomes(
        obj, rule, stat.n, stat.value, stat.lower, stat.upper, [g for g, b in breaches.items() if b]
    ).tolist()
    outcomes, reasons = [], []
    for g in range(n_groups):
        if by_bound[g]:
            outcome, reason = bound_verdict(
                obj.comparison, by_bound[g], lo_list[g], hi_list[g], rule
            )
        else:
            group = GroupResult(n_list[g], v_list[g], lo_list[g], hi_list[g], k_list[g])
            outcome, reason = decide(obj, group, rule, breaches.get(g))
        outcomes.append(outcome)
        reasons.append(reason)
    columns["outcome"] = outcomes
    columns["reason"] = reasons
    columns["note"] = _group_notes(obj.note, notes, columns.pop("empty_ok"))
    base = {
        **res.base,
        "bound_method": stat.bound_method,
        "rule": samples.rule,
        "approximate": samples.approximate,
    }
    return VerdictBlock(base, columns, n_groups)


def _group_notes(first: str, notes: list[str], empty_ok: list[int]) -> list[str]:
    """Each group's note: the objective's and the population's notes, and how many ok
    measurements of the group's scope had no probes (one text per distinct count)."""
    texts: dict[int, str] = {}
    out = []
    for count in empty_ok:
        if count not in texts:
            extra = [f"{count} ok measurement(s) without probes"] if count else []
            texts[count] = join_notes(first, [*notes, *extra])
        out.append(texts[count])
    return out


def _window_fields(pop: Population, win: Windows) -> dict[str, Any]:
    """Per group: scope, window bounds and counts (as Python values), column-wise; the same
    for every objective scored on these windows."""
    scopes = pop.scopes.iloc[win.g_scope]
    agents = scopes["agent_id"].tolist()
    collectors = scopes["collector"].tolist()
    targets = scopes["target"].tolist()
    directions = (
        scopes["direction"].tolist() if "direction" in scopes.columns else [""] * win.n_groups
    )
    return {
        "scope": _scope_names(agents, collectors, targets, directions),
        "agent_id": agents,
        "collector": collectors,
        "target": targets,
        "direction": directions,
        "window_start": pd.to_datetime(win.start_us, unit="us", utc=True),
        "window_end": pd.to_datetime(win.end_us, unit="us", utc=True),
        "n_tests": win.tests.tolist(),
        "excluded_tests": scopes["excluded_tests"].tolist(),
        "empty_ok": scopes["empty_ok"].tolist(),
    }


def _stat_fields(stat: Stat, n_groups: int) -> dict[str, Any]:
    """Per group: the statistic, its bounds and sample count (as Python values)."""
    no_ci = [None] * n_groups
    return {
        "value": optional_floats(stat.value),
        "lower_bound": optional_floats(stat.lower),
        "upper_bound": optional_floats(stat.upper),
        "ci_low": no_ci if stat.ci_low is None else optional_floats(stat.ci_low),
        "ci_high": no_ci if stat.ci_high is None else optional_floats(stat.ci_high),
        "n_samples": stat.n.astype("int64").tolist(),
    }


def _scope_names(
    agents: list[str], collectors: list[str], targets: list[str], directions: list[str]
) -> list[str]:
    """ "agent|collector|target", with "|direction" for a one-way population."""
    return [
        f"{a}|{c}|{t}" + (f"|{d}" if d else "")
        for a, c, t, d in zip(agents, collectors, targets, directions, strict=True)
    ]
