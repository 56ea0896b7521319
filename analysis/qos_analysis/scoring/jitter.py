"""RFC 3550 interarrival jitter per measurement, then its mean or maximum per group."""

from __future__ import annotations

import numpy as np
import pandas as pd

from qos.profiles import Objective
from qos_analysis.scoring.stat import Stat
from qos_analysis.stats.delay import jitter_rfc3550


def jitter_per_test(
    obj: Objective,
    codes: np.ndarray,
    n_groups: int,
    delay: np.ndarray,
    send: np.ndarray,
    measurement: np.ndarray,
) -> Stat:
    """RFC 3550 §6.4.1 jitter per measurement in arrival order, then mean or max per group."""
    frame = pd.DataFrame({"g": codes, "m": measurement, "d": delay, "send": send}).dropna(
        subset=["d"]
    )
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
    return Stat(
        out,
        np.full(n_groups, np.nan),
        np.full(n_groups, np.nan),
        n,
        f"none ({how} of per-measurement RFC 3550 jitter)",
        literal_only=True,
    )
