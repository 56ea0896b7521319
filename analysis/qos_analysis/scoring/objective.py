"""One objective of a profile → its verdict rows, one per (scope, window)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from qos.profiles import Objective, Profile
from qos_analysis.campaign import campaign_problems
from qos_analysis.populations import Population
from qos_analysis.scoring.decide import NOT_ASSESSED, GroupResult, Rule, decide
from qos_analysis.scoring.evaluators import EvalInput, compute_statistic
from qos_analysis.scoring.grouping import group_rows
from qos_analysis.scoring.rows import base_row, join_notes, nan_to_none
from qos_analysis.scoring.rules import samples_for
from qos_analysis.stats.grouped import SortedGroups, sort_groups


def score_objective(
    prof: Profile,
    obj: Objective,
    pop: Population,
    window_s: float | None,
    conf: float,
    params: Mapping[str, float | None],
    cache: dict[tuple[Any, ...], Any],
) -> pd.DataFrame:
    limit = obj.limit.resolve(params)
    exact_limit = obj.limit.resolve_exact(params)
    threshold = obj.threshold.resolve(params) if obj.threshold is not None else None
    decision = obj.decision or prof.decision
    base = base_row(prof, obj, window_s, limit, conf, decision)
    notes = list(pop.notes)
    if not obj.spec.observable:
        return pd.DataFrame(
            [
                {
                    **base,
                    "scope": "*",
                    "outcome": NOT_ASSESSED,
                    "reason": f"not assessed: metric '{obj.metric}' is not observable by "
                    f"this toolkit ({obj.spec.description})",
                    "n_samples": 0,
                }
            ]
        )
    needs_local = (
        obj.period is not None
        or obj.statistic.startswith("days_")
        or (window_s is not None and window_s % 86400 == 0)
        or prof.campaign is not None
    )
    grouping = group_rows(
        pop, window_s, prof.periods.get(obj.period) if obj.period else None, needs_local, cache
    )
    if grouping.tz_unknown and needs_local:
        notes.append("agent time zone unknown for some data: local-time rules evaluated in UTC")
    # Which values, under which rule.
    samples = samples_for(prof, obj, pop)
    rule, approximate = samples.rule, samples.approximate
    if samples.refused:
        return pd.DataFrame(
            [
                {
                    **base,
                    "scope": "*",
                    "outcome": "inconclusive",
                    "rule": rule,
                    "approximate": True,
                    "reason": "round-trip data cannot be scored against a one-way objective "
                    "(one_way_rule = refuse): one-way measurements (STAMP with synchronised "
                    "clocks) would decide it",
                    "n_samples": 0,
                }
            ]
        )
    if grouping.n_groups == 0:
        why = "no samples for this metric in the data"
        if obj.period is not None and len(pop):
            why = f"no samples inside period '{obj.period}'"
        return pd.DataFrame(
            [
                {
                    **base,
                    "scope": "*",
                    "outcome": "inconclusive",
                    "reason": why,
                    "n_samples": 0,
                    "rule": rule,
                    "approximate": approximate,
                    "note": join_notes(obj.note, notes),
                }
            ]
        )
    sel, codes, n_groups = grouping.sel, grouping.codes, grouping.n_groups
    local_us = grouping.local_us
    g_scope = grouping.g_scope
    base_sample = samples.values

    def sorter(lost_mode: str) -> SortedGroups:
        key = ("sorted", id(grouping), id(base_sample), lost_mode)
        if key not in cache:
            cache[key] = sort_groups(codes, base_sample[sel], n_groups, lost=lost_mode)
        return cache[key]  # type: ignore[return-value]

    stat = compute_statistic(
        EvalInput(
            obj, codes, n_groups, samples, sel, conf, threshold, local_us, pop.measurement, sorter
        )
    )
    start_us, end_us, tests = grouping.start_us, grouping.end_us, grouping.tests
    breaches = campaign_problems(prof.campaign, codes, n_groups, pop, sel, local_us)
    scopes = pop.scopes
    agent = scopes["agent_id"].to_numpy(dtype=object)[g_scope]
    collector = scopes["collector"].to_numpy(dtype=object)[g_scope]
    target = scopes["target"].to_numpy(dtype=object)[g_scope]
    direction = (
        scopes["direction"].to_numpy(dtype=object)[g_scope]
        if "direction" in scopes.columns
        else np.full(n_groups, "", dtype=object)
    )
    excluded = scopes["excluded_tests"].to_numpy()[g_scope]
    empty_ok = scopes["empty_ok"].to_numpy()[g_scope]
    n_list, v_list = stat.n.tolist(), stat.value.tolist()
    lo_list, hi_list = stat.lower.tolist(), stat.upper.tolist()
    k_list = stat.count.tolist() if stat.count is not None else [None] * n_groups
    rule_of_decision = Rule(
        limit, exact_limit, str(base["unit"]), decision, stat.literal_only, conf
    )
    if stat.favourable:
        rule_of_decision = replace(rule_of_decision, favourable=stat.favourable)
    outcomes, reasons, row_notes = [], [], []
    for g in range(n_groups):
        group = GroupResult(n_list[g], v_list[g], lo_list[g], hi_list[g], k_list[g])
        outcome, reason = decide(obj, group, rule_of_decision, breaches.get(g))
        outcomes.append(outcome)
        reasons.append(reason)
        extra = [f"{int(empty_ok[g])} ok measurement(s) without probes"] if empty_ok[g] else []
        row_notes.append(join_notes(obj.note, [*notes, *extra]))
    frame = pd.DataFrame(
        {
            "scope": [
                f"{a}|{c}|{t}" + (f"|{d}" if d else "")
                for a, c, t, d in zip(agent, collector, target, direction, strict=True)
            ],
            "agent_id": agent,
            "collector": collector,
            "target": target,
            "direction": direction,
            "window_start": pd.to_datetime(start_us, unit="us", utc=True),
            "window_end": pd.to_datetime(end_us, unit="us", utc=True),
            "value": nan_to_none(stat.value),
            "lower_bound": nan_to_none(stat.lower),
            "upper_bound": nan_to_none(stat.upper),
            "bound_method": stat.bound_method,
            "ci_low": None if stat.ci_low is None else nan_to_none(stat.ci_low),
            "ci_high": None if stat.ci_high is None else nan_to_none(stat.ci_high),
            "n_samples": stat.n.astype(np.int64),
            "n_tests": tests,
            "excluded_tests": excluded,
            "outcome": outcomes,
            "reason": reasons,
            "rule": rule,
            "approximate": approximate,
            "note": row_notes,
        }
    )
    for key, value in base.items():
        if key not in frame.columns:
            frame[key] = value
    return frame
