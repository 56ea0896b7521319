"""Per-objective evaluators: the statistic of each (scope, window) group and its one-sided
confidence bounds (docs/methods.md §9.1–§9.3)."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

import numpy as np
from scipy import stats as sps

from qos.profiles import Objective
from qos_analysis.populations import Population
from qos_analysis.scoring.counting import threshold_counting
from qos_analysis.scoring.jitter import jitter_per_test
from qos_analysis.scoring.stat import Stat
from qos_analysis.stats.grouped import SortedGroups
from qos_analysis.stats.proportions import (
    clopper_pearson,
    clopper_pearson_lower,
    clopper_pearson_upper,
)


def compute_statistic(
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
) -> Stat:
    """Per-group value, one-sided bounds and sample count of ``obj``'s statistic."""
    st = obj.statistic
    nan = np.full(n_groups, np.nan)
    if obj.metric == "loss_ratio":
        lost = np.isnan(vals["delay"])
        n = np.bincount(codes, minlength=n_groups).astype(np.int64)
        k = np.bincount(codes[lost], minlength=n_groups).astype(np.int64)
        with np.errstate(invalid="ignore", divide="ignore"):
            value = k / n
        ci_low, ci_high = clopper_pearson(k, n, conf)
        return Stat(
            value,
            np.asarray(clopper_pearson_lower(k, n, conf)),
            np.asarray(clopper_pearson_upper(k, n, conf)),
            n,
            f"one-sided {conf:.0%} Clopper–Pearson",
            np.asarray(ci_low),
            np.asarray(ci_high),
            count=k,
        )
    if obj.metric == "jitter_rfc3550":
        return jitter_per_test(obj, codes, n_groups, vals, pop, sel)
    sample = vals["delay"] if "delay" in vals else vals["value"]
    if st == "mean":
        n, mean, sd = sorter("exclude").mean_std()
        with np.errstate(invalid="ignore", divide="ignore"):
            tq = sps.t.ppf(conf, np.maximum(n - 1, 1))
            half = np.where(n >= 2, tq * sd / np.sqrt(n), np.nan)
        lower, upper = mean - half, mean + half
        # A failed transaction counts as +inf: the mean is then +inf, with certainty.
        infinite = group_has(codes, n_groups, np.isinf(sample))
        mean = np.where(infinite, np.inf, mean)
        lower = np.where(infinite, np.inf, lower)
        upper = np.where(infinite, np.inf, upper)
        return Stat(
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
        value = sg.median_rfc7679(lost=lost_mode) if st == "median" else sg.quantile(p)
        lower = sg.lower_bound(p, conf)
        upper = sg.upper_bound(p, conf)
        method = f"one-sided {conf:.0%} distribution-free order statistic (docs/methods.md §9.3)"
        if st == "pseudo_range" or obj.metric == "pdv":
            d_min = sg.minimum()
            value, lower, upper = value - d_min, lower - d_min, upper - d_min
            method += ", minus the sample minimum"
        return Stat(value, lower, upper, sg.counts, method)
    if st == "max":
        sg = sorter("exclude")
        return Stat(sg.maximum(), nan, nan, sg.counts, "none (sample maximum)", literal_only=True)
    if st in ("share", "days_meeting", "days_not_meeting"):
        return threshold_counting(obj, codes, n_groups, sample, conf, threshold, local_us)
    raise ValueError(f"statistic {st} not implemented for {obj.metric}")  # pragma: no cover


def group_has(codes: np.ndarray, n_groups: int, flag: np.ndarray) -> np.ndarray:
    """True for every group that has at least one flagged sample."""
    return np.bincount(codes[flag], minlength=n_groups)[:n_groups] > 0
