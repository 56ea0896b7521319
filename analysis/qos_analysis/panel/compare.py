"""Panel views by group (operator, region, plan, technology or agent) and pairwise tests.

Views (one value per panellist, see :mod:`~.panellists`):

* ``speed_bands`` — share of panellists whose median download is > 95 %, 80–95 % and
  < 80 % of advertised; pairs compare the share > 95 %.
* ``consistent_80_80`` — share of panellists whose 80/80 figure is ≥ 80 % of advertised,
  and the group's 80/80 speed (the ratio reached by 80 % of its panellists); pairs compare
  the share.
* ``peak_loss`` — share of panellists with peak-hour loss < 0.4 %, 0.4–1 % and > 1 %;
  pairs compare the share < 0.4 %.
* ``latency`` — median and 95th percentile across panellists of their median RTT, with
  distribution-free intervals (order statistics); pairs compare the medians.

Shares carry Clopper–Pearson intervals; p-values are Holm-corrected across the pairs of a
view; each row names its test (:mod:`~.significance`).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from qos_analysis.panel.significance import holm, median_test, share_test
from qos_analysis.stats.proportions import clopper_pearson
from qos_analysis.stats.quantile_ci import quantile_ci
from qos_analysis.stats.quantiles import percentile

GROUPINGS = ("operator", "region", "plan", "technology", "agent")
SPEED_BANDS = (("above_95", 0.95, np.inf), ("80_to_95", 0.80, 0.95), ("below_80", 0.0, 0.80))
LOSS_BINS = (("below_0.4%", 0.0, 0.004), ("0.4_to_1%", 0.004, 0.01), ("above_1%", 0.01, np.inf))


@dataclass(frozen=True)
class Comparison:
    by: str
    groups: pd.DataFrame  # view, group, statistic, value, ci_low, ci_high, n
    pairs: pd.DataFrame  # view, group_a, group_b, statistic, a, b, test, p, p_holm, ci_*

    def as_dict(self) -> dict[str, Any]:
        return {
            "by": self.by,
            "groups": _records(self.groups),
            "pairs": _records(self.pairs),
        }


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in r.items()}
        for r in frame.to_dict(orient="records")
    ]


def compare(units: pd.DataFrame, by: str, confidence: float = 0.95) -> Comparison:
    """``units``: one row per panellist with the column ``by`` (see :mod:`~.panellists`)."""
    groups = [str(g) for g in sorted(units[by].dropna().unique(), key=str)]
    rows: list[dict[str, Any]] = []
    pairs: list[dict[str, Any]] = []
    for view, column, bins, tested in (
        ("speed_bands", "median_download_ratio", SPEED_BANDS, "above_95"),
        ("peak_loss", "peak_loss", LOSS_BINS, "below_0.4%"),
    ):
        shares = {g: _binned(units.loc[units[by] == g, column], bins) for g in groups}
        for g in groups:
            rows.extend(_share_rows(view, g, shares[g], confidence))
        pairs.extend(_share_pairs(view, tested, shares, groups))
    consistent = {
        g: _binned(units.loc[units[by] == g, "consistent_ratio"], (("at_least_80", 0.8, np.inf),))
        for g in groups
    }
    for g in groups:
        rows.extend(_share_rows("consistent_80_80", g, consistent[g], confidence))
        ratios = units.loc[units[by] == g, "consistent_ratio"].dropna().to_numpy()
        value = percentile(ratios, "0.2") if len(ratios) else np.nan
        rows.append(
            _row(
                "consistent_80_80",
                g,
                "ratio_reached_by_80%",
                value,
                np.nan,
                np.nan,
                len(ratios),
                "20th percentile across panellists; no interval computed",
            )
        )
    pairs.extend(_share_pairs("consistent_80_80", "at_least_80", consistent, groups))
    rtts = {g: units.loc[units[by] == g, "median_rtt_s"].dropna().to_numpy() for g in groups}
    for g in groups:
        for name, p in (("median_rtt_s", "0.5"), ("p95_rtt_s", "0.95")):
            ci = quantile_ci(rtts[g], p, confidence, lost="exclude")
            value = percentile(rtts[g], p) if len(rtts[g]) else np.nan
            rows.append(
                _row("latency", g, name, value, ci.lower, ci.upper, len(rtts[g]), ci.reason)
            )
    pairs.extend(_median_pairs(rtts, groups, confidence))
    pair_frame = pd.DataFrame(pairs, columns=PAIR_COLUMNS)
    for idx in pair_frame.groupby("view").groups.values():
        pair_frame.loc[idx, "p_holm"] = holm(pair_frame.loc[idx, "p"].tolist())
    return Comparison(by, pd.DataFrame(rows, columns=GROUP_COLUMNS), pair_frame)


GROUP_COLUMNS = ["view", "group", "statistic", "value", "ci_low", "ci_high", "n", "note"]
PAIR_COLUMNS = [
    "view",
    "group_a",
    "group_b",
    "statistic",
    "a",
    "b",
    "test",
    "p",
    "p_holm",
    "diff_ci_low",
    "diff_ci_high",
]


def _row(
    view: str, g: str, stat: str, value: float, lo: float, hi: float, n: int, note: str = ""
) -> dict:
    return dict(zip(GROUP_COLUMNS, (view, g, stat, value, lo, hi, n, note), strict=True))


def _binned(values: pd.Series, bins: tuple) -> tuple[int, dict[str, int]]:
    v = values.dropna().to_numpy(dtype=float)
    return len(v), {name: int(((v >= lo) & (v < hi)).sum()) for name, lo, hi in bins}


def _share_rows(view: str, g: str, share: tuple[int, dict[str, int]], conf: float) -> list:
    n, counts = share
    out = []
    for name, k in counts.items():
        lo, hi = clopper_pearson(k, n, conf) if n else (np.nan, np.nan)
        out.append(_row(view, g, f"share_{name}", k / n if n else np.nan, float(lo), float(hi), n))
    return out


def _share_pairs(view: str, tested: str, shares: dict, groups: list[str]) -> list[dict]:
    out = []
    for a, b in combinations(groups, 2):
        (na, ca), (nb, cb) = shares[a], shares[b]
        test, p = share_test(ca[tested], na, cb[tested], nb)
        out.append(
            dict(
                zip(
                    PAIR_COLUMNS,
                    (
                        view,
                        a,
                        b,
                        f"share_{tested}",
                        ca[tested] / na if na else np.nan,
                        cb[tested] / nb if nb else np.nan,
                        test,
                        p,
                        np.nan,
                        np.nan,
                        np.nan,
                    ),
                    strict=True,
                )
            )
        )
    return out


def _median_pairs(rtts: dict[str, np.ndarray], groups: list[str], conf: float) -> list[dict]:
    out = []
    for a, b in combinations(groups, 2):
        test, p, lo, hi = median_test(rtts[a], rtts[b], conf)
        out.append(
            dict(
                zip(
                    PAIR_COLUMNS,
                    (
                        "latency",
                        a,
                        b,
                        "median_rtt_s",
                        np.median(rtts[a]) if len(rtts[a]) else np.nan,
                        np.median(rtts[b]) if len(rtts[b]) else np.nan,
                        test,
                        p,
                        np.nan,
                        lo,
                        hi,
                    ),
                    strict=True,
                )
            )
        )
    return out
