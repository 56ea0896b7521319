"""Threshold counting: the share of samples meeting a threshold (Clopper–Pearson bounds,
docs/methods.md §9.1) and the regulator counting rules days_meeting / days_not_meeting, applied
literally with the share's interval reported beside them (§9.4)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from qos.profiles import Objective
from qos_analysis.scoring.stat import Stat
from qos_analysis.stats.proportions import (
    clopper_pearson,
    clopper_pearson_lower,
    clopper_pearson_upper,
)
from qos_analysis.stats.timebase import local_day


def ratio_stat(k: np.ndarray, n: np.ndarray, conf: float, method: str, favourable: str) -> Stat:
    """k/n per group with one-sided Clopper–Pearson bounds and the two-sided interval
    (§9.1); ``count`` keeps k so the decision compares k/n with the limit exactly."""
    ci_low, ci_high = clopper_pearson(k, n, conf)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = k / n
    return Stat(
        value,
        np.asarray(clopper_pearson_lower(k, n, conf)),
        np.asarray(clopper_pearson_upper(k, n, conf)),
        n,
        method,
        np.asarray(ci_low),
        np.asarray(ci_high),
        count=k,
        favourable=favourable,
    )


def threshold_counting(
    obj: Objective,
    codes: np.ndarray,
    n_groups: int,
    sample: np.ndarray,
    conf: float,
    threshold: float | None,
    local_us: np.ndarray,
) -> Stat:
    """Share of samples meeting the per-sample threshold, or days with / without such a sample."""
    assert threshold is not None
    st = obj.statistic
    nan = np.full(n_groups, np.nan)
    counted = np.where(np.isnan(sample), np.inf, sample) if obj.lost == "infinite" else sample
    defined = ~np.isnan(counted)
    c, v = codes[defined], counted[defined]
    meets = v <= threshold if obj.threshold_comparison == "<=" else v >= threshold
    n = np.bincount(c, minlength=n_groups).astype(np.int64)
    k = np.bincount(c[meets], minlength=n_groups).astype(np.int64)
    if st == "share":
        return ratio_stat(
            k,
            n,
            conf,
            f"one-sided {conf:.0%} Clopper–Pearson on the share; CI = two-sided",
            "samples meeting the threshold",
        )
    ci_low, ci_high = clopper_pearson(k, n, conf)
    day = local_day(local_us[defined])
    frame = pd.DataFrame({"g": c, "day": day, "meets": meets})
    per_day = frame.groupby(["g", "day"])["meets"].agg(["any", "all"]).reset_index()
    flag = per_day["any"] if st == "days_meeting" else ~per_day["all"]
    days = np.bincount(per_day["g"].to_numpy()[flag.to_numpy()], minlength=n_groups)
    return Stat(
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
