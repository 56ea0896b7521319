"""Pairwise tests between groups of panellists, each named in the output.

* Shares (a proportion of panellists): Fisher's exact test when a 2×2 cell's expected count
  is below 5 (Cochran's rule), else the pooled two-proportion z-test (Agresti, *Categorical
  Data Analysis*, 3rd ed., §3.1 and §3.5); both two-sided.
* Medians (one value per panellist): the two-sided Mann–Whitney U test (SciPy
  ``mannwhitneyu``, exact for small samples without ties) and a bootstrap percentile interval
  for the difference of medians (SciPy ``bootstrap``, fixed seed, so output is reproducible).
* Holm's step-down correction across the pairs of one view (Holm 1979) controls the
  family-wise error rate without assuming independence.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats as sps

Z_TEST = "two-proportion z-test (pooled)"
FISHER = "Fisher exact"
MANN_WHITNEY = "Mann-Whitney U"
BOOTSTRAP = "bootstrap percentile CI of the median difference"


def share_test(k1: int, n1: int, k2: int, n2: int) -> tuple[str, float]:
    """(test name, two-sided p) for H0: the two groups' proportions are equal."""
    if min(n1, n2) == 0:
        return "none (empty group)", math.nan
    pooled = (k1 + k2) / (n1 + n2)
    expected = [n * q for n in (n1, n2) for q in (pooled, 1 - pooled)]
    if min(expected) < 5:
        return FISHER, float(sps.fisher_exact([[k1, n1 - k1], [k2, n2 - k2]]).pvalue)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    z = (k1 / n1 - k2 / n2) / se
    return Z_TEST, float(2 * sps.norm.sf(abs(z)))


def median_test(
    a: np.ndarray, b: np.ndarray, confidence: float = 0.95, seed: int = 0
) -> tuple[str, float, float, float]:
    """(test name, Mann–Whitney p, bootstrap CI low, high) for median(a) − median(b)."""
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if len(a) < 2 or len(b) < 2:
        return "none (fewer than 2 panellists)", math.nan, math.nan, math.nan
    p = float(sps.mannwhitneyu(a, b, alternative="two-sided").pvalue)
    res = sps.bootstrap(
        (a, b),
        lambda x, y, axis: np.median(x, axis=axis) - np.median(y, axis=axis),
        n_resamples=2000,
        confidence_level=confidence,
        method="percentile",
        rng=np.random.default_rng(seed),
        vectorized=True,
    )
    low, high = res.confidence_interval
    return f"{MANN_WHITNEY}; {BOOTSTRAP}", p, float(low), float(high)


def holm(pvalues: list[float]) -> list[float]:
    """Holm-adjusted p-values (NaN stays NaN and does not count as a hypothesis)."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full(len(p), np.nan)
    idx = np.flatnonzero(~np.isnan(p))
    m = len(idx)
    order = idx[np.argsort(p[idx], kind="stable")]
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out.tolist()
