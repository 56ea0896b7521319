"""Scoring: a threshold profile × windowed statistics → one verdict per (scope, window,
objective) (ARCHITECTURE.md §2.7).

Outcomes (STANDARDS.md §9):

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
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from qos.errors import ProfileError
from qos.profiles import Objective, Period, Profile, get_profile
from qos.units import parse_duration_s
from qos_analysis.campaign import campaign_problems
from qos_analysis.load import Dataset
from qos_analysis.populations import (
    Population,
    directional_population,
    probe_population,
    test_population,
)
from qos_analysis.stats.delay import jitter_rfc3550
from qos_analysis.stats.grouped import (
    SortedGroups,
    distinct_per_group,
    group_codes,
    sort_groups,
)
from qos_analysis.stats.proportions import (
    clopper_pearson,
    clopper_pearson_lower,
    clopper_pearson_upper,
)
from qos_analysis.stats.timebase import (
    US_PER_S,
    in_period,
    local_day,
    local_epoch_us,
    window_numbers,
    window_starts,
)

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
OUTCOMES = ("pass", "fail", "inconclusive")
_UNITS = {"duration": "s", "rate": "bit/s", "ratio": "ratio"}
RULE_RTT_HALF = "rtt-half: one-way ≈ RTT/2 (assumes symmetric paths)"
RULE_RT_LOSS = "round-trip loss counted against the one-way objective (both directions)"
RULE_DIRECTIONAL = "measured one-way, each direction scored (STAMP, synchronised clocks)"


@dataclass
class _Stat:
    """Per-group statistic arrays for one objective."""

    value: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    n: np.ndarray
    bound_method: str
    ci_low: np.ndarray | None = None
    ci_high: np.ndarray | None = None
    literal_only: bool = False
    extra_reason: dict[int, str] = field(default_factory=dict)


def score(
    data: Dataset,
    profile: Profile | str,
    *,
    window: str | float | None = None,
    params: Mapping[str, str | float] | None = None,
    confidence: float | None = None,
) -> pd.DataFrame:
    """Verdicts of ``profile`` on ``data`` (columns :data:`VERDICT_COLUMNS`).

    ``window`` ("1h", seconds, or "all") overrides the profile's default window for
    objectives that do not fix their own; ``params`` supplies profile parameters such as
    contracted speeds (strings with units).
    """
    prof = get_profile(profile) if isinstance(profile, str) else profile
    if params:
        prof = prof.with_parameters(params)
    param_values = prof.parameter_values()
    for objective in prof.objectives:  # fail fast on missing parameters, before any work
        objective.limit.resolve(param_values)
        if objective.threshold is not None:
            objective.threshold.resolve(param_values)
    if confidence is not None and not 0 < confidence < 1:
        raise ProfileError(f"confidence must lie strictly between 0 and 1, got {confidence}")
    override = _parse_window_arg(window)
    frames: list[pd.DataFrame] = []
    cache: dict[tuple[Any, ...], Any] = {}
    # Populations stay alive for the whole call: the grouping cache is keyed by their id.
    populations: dict[str, Population | None] = {}
    for objective in prof.objectives:
        conf = confidence or objective.confidence or prof.confidence
        window_s = _objective_window(prof, objective, override)
        source = "probes" if objective.spec.source == "probes" else objective.metric
        if source not in populations:
            populations[source] = (
                probe_population(data, failed_tests=prof.failed_tests)
                if source == "probes"
                else test_population(data, objective.metric, failed_tests=prof.failed_tests)
            )
        pop = populations[source]
        assert pop is not None
        if source == "probes" and objective.spec.one_way:
            # Measured one-way data (STAMP, synchronised clocks): score each direction.
            if "directional" not in populations:
                populations["directional"] = directional_population(pop)
            directional = populations["directional"]
            if directional is not None:
                pop = directional
        frames.append(_score_objective(prof, objective, pop, window_s, conf, param_values, cache))
    frames = [f for f in frames if not f.empty]
    frame = (
        pd.concat(frames, ignore_index=True)[list(VERDICT_COLUMNS)]
        if frames
        else pd.DataFrame(columns=list(VERDICT_COLUMNS))
    )
    frame["window_start"] = pd.to_datetime(frame["window_start"], utc=True)
    frame["window_end"] = pd.to_datetime(frame["window_end"], utc=True)
    return frame


def _parse_window_arg(window: str | float | None) -> float | str | None:
    if window is None:
        return "profile"
    if window == "all":
        return None
    seconds = float(window) if isinstance(window, int | float) else parse_duration_s(window)
    if seconds <= 0:
        raise ProfileError("window must be positive or 'all'")
    return seconds


def _objective_window(
    prof: Profile, objective: Objective, override: float | str | None
) -> float | None:
    if objective.window_all:
        return None
    if objective.window_s is not None:
        return objective.window_s
    if override != "profile":
        return override  # type: ignore[return-value]
    return prof.window_s


def _format_window(window_s: float | None) -> str:
    if window_s is None:
        return "all"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if window_s % size == 0:
            return f"{int(window_s // size)}{unit}"
    return f"{window_s:g}s"


# --- one objective ---------------------------------------------------------------------------


def _score_objective(
    prof: Profile,
    obj: Objective,
    pop: Population,
    window_s: float | None,
    conf: float,
    params: Mapping[str, float | None],
    cache: dict[tuple[Any, ...], Any],
) -> pd.DataFrame:
    limit = obj.limit.resolve(params)
    threshold = obj.threshold.resolve(params) if obj.threshold is not None else None
    decision = obj.decision or prof.decision
    base = _base_row(prof, obj, window_s, limit, conf, decision)
    notes = list(pop.notes)
    if not obj.spec.observable:
        return pd.DataFrame(
            [
                {
                    **base,
                    "scope": "*",
                    "outcome": "inconclusive",
                    "reason": f"metric '{obj.metric}' is not observable by this toolkit "
                    f"({obj.spec.description})",
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
    grouping = _grouping(
        pop, window_s, prof.periods.get(obj.period) if obj.period else None, needs_local, cache
    )
    if grouping.tz_unknown and needs_local:
        notes.append("agent time zone unknown for some data: local-time rules evaluated in UTC")
    # Which values, under which rule.
    values, rule, approximate, refuse = _values_for(prof, obj, pop)
    if refuse:
        return pd.DataFrame(
            [
                {
                    **base,
                    "scope": "*",
                    "outcome": "inconclusive",
                    "rule": rule,
                    "approximate": True,
                    "reason": "round-trip data cannot be scored against a one-way objective "
                    "(one_way_rule = refuse)",
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
                    "note": _join_notes(obj.note, notes),
                }
            ]
        )
    sel, codes, n_groups = grouping.sel, grouping.codes, grouping.n_groups
    local_us = grouping.local_us
    g_scope = grouping.g_scope
    vals = {k: v[sel] for k, v in values.items()}
    base_sample = values["delay"] if "delay" in values else values["value"]

    def sorter(lost_mode: str) -> SortedGroups:
        key = ("sorted", id(grouping), id(base_sample), lost_mode)
        if key not in cache:
            cache[key] = sort_groups(codes, base_sample[sel], n_groups, lost=lost_mode)
        return cache[key]  # type: ignore[return-value]

    stat = _compute(obj, codes, n_groups, vals, conf, threshold, local_us[sel], pop, sel, sorter)
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
    outcomes, reasons, row_notes = [], [], []
    for g in range(n_groups):
        outcome, reason = _decide(
            obj,
            n_list[g],
            v_list[g],
            lo_list[g],
            hi_list[g],
            stat.literal_only,
            limit,
            decision,
            breaches.get(g),
        )
        outcomes.append(outcome)
        reasons.append(reason)
        extra = [f"{int(empty_ok[g])} ok measurement(s) without probes"] if empty_ok[g] else []
        row_notes.append(_join_notes(obj.note, [*notes, *extra]))
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
            "value": _nan_to_none(stat.value),
            "lower_bound": _nan_to_none(stat.lower),
            "upper_bound": _nan_to_none(stat.upper),
            "bound_method": stat.bound_method,
            "ci_low": None if stat.ci_low is None else _nan_to_none(stat.ci_low),
            "ci_high": None if stat.ci_high is None else _nan_to_none(stat.ci_high),
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


@dataclass
class _Grouping:
    """Rows selected for an objective and their (scope, window) groups; shared by the
    objectives of a profile that use the same population, window and period."""

    sel: Any  # slice or index array into the population
    codes: np.ndarray
    n_groups: int
    g_scope: np.ndarray
    start_us: np.ndarray
    end_us: np.ndarray
    tests: np.ndarray
    local_us: np.ndarray
    tz_unknown: bool


def _grouping(
    pop: Population,
    window_s: float | None,
    period: Period | None,
    needs_local: bool,
    cache: dict[tuple[Any, ...], Any],
) -> _Grouping:
    key = (id(pop), window_s, None if period is None else period.name, needs_local)
    if key in cache:
        return cache[key]
    if needs_local:
        local_us, tz_unknown = local_epoch_us(pop.t_us, pop.tz_code, pop.tz_names)
    else:
        local_us, tz_unknown = pop.t_us, False
    sel: Any = slice(None)
    if period is not None:
        sel = np.flatnonzero(in_period(local_us, period))
    t_sel = pop.t_us[sel]
    local_sel = local_us[sel]
    win = window_numbers(t_sel, local_sel, window_s)
    codes, g_scope, g_win = group_codes(pop.scope[sel], len(pop.scopes), win)
    n_groups = len(g_scope)
    if window_s is None:
        start_us = np.full(n_groups, np.iinfo(np.int64).max)
        end_us = np.full(n_groups, np.iinfo(np.int64).min)
        np.minimum.at(start_us, codes, t_sel)
        np.maximum.at(end_us, codes, t_sel)
    else:
        start_us = window_starts(g_win, codes, t_sel, local_sel, window_s)
        end_us = start_us + round(window_s * US_PER_S)
    tests = distinct_per_group(codes, pop.measurement[sel], n_groups)
    grouping = _Grouping(
        sel, codes, n_groups, g_scope, start_us, end_us, tests, local_us, tz_unknown
    )
    cache[key] = grouping
    return grouping


def _nan_to_none(values: np.ndarray) -> np.ndarray:
    out = np.asarray(values, dtype=object)
    out[pd.isna(np.asarray(values, dtype=np.float64))] = None
    return out


def _join_notes(first: str, rest: list[str]) -> str:
    return "; ".join(n for n in [first, *rest] if n)


def _base_row(
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
        "window": _format_window(window_s),
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


def _values_for(
    prof: Profile, obj: Objective, pop: Population
) -> tuple[dict[str, np.ndarray], str, bool, bool]:
    """Sample arrays for an objective and the one-way rule applied (name, approximate)."""
    if obj.spec.source != "probes":
        return {"value": pop.values["value"]}, "", False, False
    if "direction_delay" in pop.values:  # measured one-way, per direction
        if obj.metric == "loss_ratio":
            return {"delay": pop.values["direction_lost"]}, RULE_DIRECTIONAL, False, False
        return (
            {"delay": pop.values["direction_delay"], "send": pop.values["send_offset_s"]},
            RULE_DIRECTIONAL,
            False,
            False,
        )
    rtt = pop.values["rtt_s"]
    if obj.metric == "rtt":
        return {"delay": rtt}, "", False, False
    if obj.metric == "loss_ratio":
        return {"delay": rtt}, RULE_RT_LOSS, True, False
    # One-way metrics on round-trip data: the named rule.
    rule = obj.one_way_rule or prof.one_way_rule
    if rule == "refuse":
        return {}, "refuse", True, True
    derived = pop.derived
    if "rtt_half" not in derived:
        derived["rtt_half"] = rtt / 2.0
    send = pop.values["send_offset_s"]
    return {"delay": derived["rtt_half"], "send": send}, RULE_RTT_HALF, True, False


# --- statistics ------------------------------------------------------------------------------


def _compute(
    obj: Objective,
    codes: np.ndarray,
    n_groups: int,
    vals: dict[str, np.ndarray],
    conf: float,
    threshold: float | None,
    local_us: np.ndarray,
    pop: Population,
    sel: np.ndarray,
    sorter: Callable[[str], SortedGroups],
) -> _Stat:
    st = obj.statistic
    nan = np.full(n_groups, np.nan)
    if obj.metric == "loss_ratio":
        lost = np.isnan(vals["delay"])
        n = np.bincount(codes, minlength=n_groups).astype(np.int64)
        k = np.bincount(codes[lost], minlength=n_groups).astype(np.int64)
        with np.errstate(invalid="ignore", divide="ignore"):
            value = k / n
        ci_low, ci_high = clopper_pearson(k, n, conf)
        return _Stat(
            value,
            np.asarray(clopper_pearson_lower(k, n, conf)),
            np.asarray(clopper_pearson_upper(k, n, conf)),
            n,
            f"one-sided {conf:.0%} Clopper–Pearson",
            np.asarray(ci_low),
            np.asarray(ci_high),
        )
    if obj.metric == "jitter_rfc3550":
        return _jitter_per_test(obj, codes, n_groups, vals, pop, sel)
    sample = vals["delay"] if "delay" in vals else vals["value"]
    if st == "mean":
        n, mean, sd = sorter("exclude").mean_std()
        with np.errstate(invalid="ignore", divide="ignore"):
            tq = sps.t.ppf(conf, np.maximum(n - 1, 1))
            half = np.where(n >= 2, tq * sd / np.sqrt(n), np.nan)
        lower, upper = mean - half, mean + half
        # A failed transaction counts as +inf: the mean is then +inf, with certainty.
        infinite = _group_has(codes, n_groups, np.isinf(sample))
        mean = np.where(infinite, np.inf, mean)
        lower = np.where(infinite, np.inf, lower)
        upper = np.where(infinite, np.inf, upper)
        return _Stat(
            mean,
            lower,
            upper,
            n,
            f"one-sided {conf:.0%} Student t on the mean (normal approximation)",
        )
    if st in ("percentile", "median", "pseudo_range"):
        lost_mode = obj.lost if obj.metric in ("rtt", "one_way_delay") else "exclude"
        sg = sorter(lost_mode)
        p: Fraction = obj.percentile if obj.percentile is not None else Fraction(1, 2)
        value = sg.median_rfc7679() if st == "median" else sg.quantile(p)
        lower = sg.lower_bound(p, conf)
        upper = sg.upper_bound(p, conf)
        method = f"one-sided {conf:.0%} distribution-free order statistic (§9.3)"
        if st == "pseudo_range" or obj.metric == "pdv":
            d_min = sg.minimum()
            value, lower, upper = value - d_min, lower - d_min, upper - d_min
            method += ", minus the sample minimum"
        return _Stat(value, lower, upper, sg.counts, method)
    if st == "max":
        sg = sorter("exclude")
        return _Stat(sg.maximum(), nan, nan, sg.counts, "none (sample maximum)", literal_only=True)
    if st in ("share", "days_meeting", "days_not_meeting"):
        assert threshold is not None
        counted = np.where(np.isnan(sample), np.inf, sample) if obj.lost == "infinite" else sample
        defined = ~np.isnan(counted)
        c, v = codes[defined], counted[defined]
        meets = v <= threshold if obj.threshold_comparison == "<=" else v >= threshold
        n = np.bincount(c, minlength=n_groups).astype(np.int64)
        k = np.bincount(c[meets], minlength=n_groups).astype(np.int64)
        ci_low, ci_high = clopper_pearson(k, n, conf)
        with np.errstate(invalid="ignore", divide="ignore"):
            share = k / n
        if st == "share":
            return _Stat(
                share,
                np.asarray(clopper_pearson_lower(k, n, conf)),
                np.asarray(clopper_pearson_upper(k, n, conf)),
                n,
                f"one-sided {conf:.0%} Clopper–Pearson on the share; CI = two-sided",
                np.asarray(ci_low),
                np.asarray(ci_high),
            )
        day = local_day(local_us[defined])
        frame = pd.DataFrame({"g": c, "day": day, "meets": meets})
        per_day = frame.groupby(["g", "day"])["meets"].agg(["any", "all"]).reset_index()
        flag = per_day["any"] if st == "days_meeting" else ~per_day["all"]
        days = np.bincount(per_day["g"].to_numpy()[flag.to_numpy()], minlength=n_groups)
        return _Stat(
            days.astype(np.float64),
            nan,
            nan,
            n,
            "none (regulator counting rule); CI = two-sided Clopper–Pearson of the "
            "share of tests meeting the threshold",
            np.asarray(ci_low),
            np.asarray(ci_high),
            literal_only=True,
        )
    raise ValueError(f"statistic {st} not implemented for {obj.metric}")  # pragma: no cover


def _group_has(codes: np.ndarray, n_groups: int, flag: np.ndarray) -> np.ndarray:
    return np.bincount(codes[flag], minlength=n_groups)[:n_groups] > 0


def _jitter_per_test(
    obj: Objective,
    codes: np.ndarray,
    n_groups: int,
    vals: dict[str, np.ndarray],
    pop: Population,
    sel: np.ndarray,
) -> _Stat:
    """RFC 3550 jitter per measurement in arrival order (§6.1), then mean or max per group."""
    frame = pd.DataFrame(
        {"g": codes, "m": pop.measurement[sel], "d": vals["delay"], "send": vals["send"]}
    ).dropna(subset=["d"])
    frame["arrival"] = frame["send"] + frame["d"]
    frame = frame.sort_values(["m", "arrival"], kind="stable")
    per_test = frame.groupby(["g", "m"])["d"].agg(lambda s: jitter_rfc3550(s.to_numpy()))
    per_test = per_test.dropna()
    out = np.full(n_groups, np.nan)
    n = np.zeros(n_groups, dtype=np.int64)
    how = "max" if obj.statistic == "max" else "mean"
    if len(per_test):
        agg = per_test.groupby(level=0).agg([how, "count"])
        idx = agg.index.to_numpy(dtype=np.int64)
        out[idx] = agg[how].to_numpy()
        n[idx] = agg["count"].to_numpy()
    return _Stat(
        out,
        np.full(n_groups, np.nan),
        np.full(n_groups, np.nan),
        n,
        f"none ({how} of per-measurement RFC 3550 jitter)",
        literal_only=True,
    )


# --- decisions -------------------------------------------------------------------------------


def _decide(
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


# --- summary ---------------------------------------------------------------------------------


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
