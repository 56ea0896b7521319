"""The evaluator registry: how each statistic of a (scope, window) group is computed, with
its one-sided confidence bounds (docs/methods.md §9.1–§9.3).

The metric catalogue (``qos.profiles.catalogue``) names, for every statistic of every
metric, the evaluator computing it; :data:`EVALUATORS` maps those names to functions of
one :class:`EvalInput`.  A new metric reuses these by name; new arithmetic is one
:func:`register_evaluator` call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property
from typing import Any

import numpy as np
from scipy import stats as sps

from qos.profiles import Objective
from qos_analysis.scoring.counting import ratio_stat, threshold_counting
from qos_analysis.scoring.jitter import jitter_per_test
from qos_analysis.scoring.rules import Samples
from qos_analysis.scoring.stat import Stat
from qos_analysis.stats.grouped import SortedGroups


@dataclass
class EvalInput:
    """What an evaluator sees: the objective, the group of every selected row and the
    samples (population-wide arrays, selected lazily with ``sel``)."""

    obj: Objective
    codes: np.ndarray  # group per selected row
    n_groups: int
    samples: Samples
    sel: Any  # slice or index array into the population
    conf: float
    threshold: float | None
    local_all: np.ndarray  # local clock (µs) per population row
    measurement_all: np.ndarray  # measurement row per population row
    sorted_groups: Callable[[str], SortedGroups]  # lost mode → sorted per group (cached)

    @cached_property
    def sample(self) -> np.ndarray:
        return self.samples.values[self.sel]

    @cached_property
    def send(self) -> np.ndarray:
        if self.samples.send is None:
            raise ValueError(f"metric {self.obj.metric}: the samples carry no send times")
        return self.samples.send[self.sel]

    @cached_property
    def local_us(self) -> np.ndarray:
        return self.local_all[self.sel]

    @cached_property
    def measurement(self) -> np.ndarray:
        return self.measurement_all[self.sel]


Evaluator = Callable[[EvalInput], Stat]
EVALUATORS: dict[str, Evaluator] = {}


def register_evaluator(name: str) -> Callable[[Evaluator], Evaluator]:
    """Decorator: add an evaluator to :data:`EVALUATORS` under ``name``."""

    def add(fn: Evaluator) -> Evaluator:
        if name in EVALUATORS:
            raise ValueError(f"evaluator '{name}' is already registered")
        EVALUATORS[name] = fn
        return fn

    return add


def unregister_evaluator(name: str) -> None:
    """Remove an evaluator added with :func:`register_evaluator`."""
    del EVALUATORS[name]


def compute_statistic(inp: EvalInput) -> Stat:
    """Per-group value, one-sided bounds and sample count of the objective's statistic,
    by the evaluator the metric catalogue names for it."""
    name = inp.obj.spec.evaluator(inp.obj.statistic)
    try:
        evaluator = EVALUATORS[name]
    except KeyError:
        raise ValueError(f"metric {inp.obj.metric}: no evaluator named '{name}'") from None
    return evaluator(inp)


@register_evaluator("loss_ratio")
def loss_ratio(inp: EvalInput) -> Stat:
    """Lost samples (NaN) / all samples, with Clopper–Pearson bounds (§9.1)."""
    codes, n_groups, conf = inp.codes, inp.n_groups, inp.conf
    lost = np.isnan(inp.sample)
    n = np.bincount(codes, minlength=n_groups).astype(np.int64)
    k = np.bincount(codes[lost], minlength=n_groups).astype(np.int64)
    return ratio_stat(k, n, conf, f"one-sided {conf:.0%} Clopper–Pearson", "loss-free packets")


@register_evaluator("event_ratio")
def event_ratio(inp: EvalInput) -> Stat:
    """Tests that saw the event (value 1, e.g. a manipulation) / tests with a value (0 or 1),
    with Clopper–Pearson bounds (§9.1)."""
    codes, n_groups, conf = inp.codes, inp.n_groups, inp.conf
    defined = ~np.isnan(inp.sample)
    seen = defined & (inp.sample > 0)
    n = np.bincount(codes[defined], minlength=n_groups).astype(np.int64)
    k = np.bincount(codes[seen], minlength=n_groups).astype(np.int64)
    return ratio_stat(k, n, conf, f"one-sided {conf:.0%} Clopper–Pearson", "clean tests")


@register_evaluator("jitter_rfc3550")
def jitter(inp: EvalInput) -> Stat:
    """Mean or maximum of the per-measurement RFC 3550 §6.4.1 jitter."""
    return jitter_per_test(inp.obj, inp.codes, inp.n_groups, inp.sample, inp.send, inp.measurement)


@register_evaluator("mean")
def mean(inp: EvalInput) -> Stat:
    """Sample mean with a one-sided Student t bound (a normal approximation)."""
    conf = inp.conf
    sg = inp.sorted_groups("exclude")
    n, avg, sd = sg.mean_std()
    with np.errstate(invalid="ignore", divide="ignore"):
        tq = sps.t.ppf(conf, np.maximum(n - 1, 1))
        half = np.where(n >= 2, tq * sd / np.sqrt(n), np.nan)
    lower, upper = avg - half, avg + half
    # A failed transaction counts as +inf: the mean is then +inf, with certainty.  The
    # sorted groups hold every defined sample, so an infinite one is the group's end.
    infinite = np.isinf(sg.minimum()) | np.isinf(sg.maximum())
    avg = np.where(infinite, np.inf, avg)
    lower = np.where(infinite, np.inf, lower)
    upper = np.where(infinite, np.inf, upper)
    return Stat(
        avg,
        lower,
        upper,
        n,
        f"one-sided {conf:.0%} Student t on the mean (normal approximation)",
    )


def _order_statistic(inp: EvalInput, minus_minimum: bool) -> Stat:
    obj, conf = inp.obj, inp.conf
    lost_mode = obj.lost if obj.spec.lost_as_infinite else "exclude"
    sg = inp.sorted_groups(lost_mode)
    p: Fraction = obj.percentile if obj.percentile is not None else Fraction(1, 2)
    value = sg.median_rfc7679(lost=lost_mode) if obj.statistic == "median" else sg.quantile(p)
    lower = sg.lower_bound(p, conf)
    upper = sg.upper_bound(p, conf)
    method = f"one-sided {conf:.0%} distribution-free order statistic (docs/methods.md §9.3)"
    if minus_minimum:
        d_min = sg.minimum()
        value, lower, upper = value - d_min, lower - d_min, upper - d_min
        method += ", minus the sample minimum"
    return Stat(value, lower, upper, sg.counts, method)


@register_evaluator("order_statistic")
def order_statistic(inp: EvalInput) -> Stat:
    """RFC 2330 percentile (RFC 7679 median) with distribution-free bounds (§9.3)."""
    return _order_statistic(inp, minus_minimum=False)


@register_evaluator("order_statistic_minus_minimum")
def order_statistic_minus_minimum(inp: EvalInput) -> Stat:
    """A percentile minus the sample minimum: Y.1541 IPDV pseudo-range, RFC 5481 PDV."""
    return _order_statistic(inp, minus_minimum=True)


@register_evaluator("maximum")
def maximum(inp: EvalInput) -> Stat:
    """Sample maximum, applied literally (no bound)."""
    sg = inp.sorted_groups("exclude")
    nan = np.full(inp.n_groups, np.nan)
    return Stat(sg.maximum(), nan, nan, sg.counts, "none (sample maximum)", literal_only=True)


@register_evaluator("threshold_count")
def threshold_count(inp: EvalInput) -> Stat:
    """Share of samples meeting a threshold, or the regulator's day-counting rules."""
    return threshold_counting(
        inp.obj, inp.codes, inp.n_groups, inp.sample, inp.conf, inp.threshold, inp.local_us
    )
