"""Two-sided distribution-free confidence intervals for a quantile from order statistics.

For a sample of n independent values from a continuous distribution F with p-quantile ξ_p,
B = #{Xᵢ ≤ ξ_p} is Binomial(n, p), so for ranks l < u of the sorted sample

    P(X(l) ≤ ξ_p ≤ X(u)) = P(l ≤ B ≤ u − 1) = 1 − Bin_cdf(l − 1; n, p) − Bin_sf(u − 1; n, p)

whatever F is (Thompson 1936; Hahn & Meeker, *Statistical Intervals*, 1991, §5.2;
Conover, *Practical Nonparametric Statistics*, 3rd ed. 1999, §3.2).  With ties (discrete
data) the true coverage is at least this figure.  Because ranks are integers the achieved
coverage exceeds the asked confidence; it is returned with the ranks.

Two rank rules, named in the result:

* ``equal-tailed``: l is the largest rank with P(X(l) > ξ_p) ≤ α/2 and u the smallest with
  P(X(u) < ξ_p) ≤ α/2, so each side misses with probability at most α/2 (Hahn & Meeker
  §5.2; Conover §3.2).
* ``shortest``: the pair with the smallest rank span u − l among all pairs with coverage ≥
  the confidence; ties broken toward the coverage nearest the confidence, then toward the
  pair centred nearest the expected rank (n + 1)·p, then the lower l.

The point estimate for the same quantile is the RFC 2330 §11.3 percentile of
:mod:`qos_analysis.stats.quantiles`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from fractions import Fraction

import numpy as np
from scipy import stats as sps

from qos_analysis.stats.quantiles import as_fraction

RULES = ("equal-tailed", "shortest")
LOST_CONVENTIONS = ("infinite", "exclude")
_TIE = 1e-12  # coverages closer than this are treated as equal when breaking ties


@dataclass(frozen=True)
class QuantileInterval:
    """A two-sided interval [X(l), X(u)] for the p-quantile and how it was chosen.

    ``lower_rank``/``upper_rank`` are 1-based ranks in the sorted sample; both are ``None``
    when the sample is too small for the rule, and ``reason`` then says why.  ``coverage`` is
    the achieved P(X(l) ≤ ξ_p ≤ X(u)) for continuous data (NaN when unavailable).
    ``lower``/``upper`` are the sample values at those ranks (NaN for ranks-only results).
    """

    rule: str
    p: Fraction
    n: int
    confidence: float
    lower_rank: int | None
    upper_rank: int | None
    coverage: float
    lower: float = math.nan
    upper: float = math.nan
    reason: str = ""

    @property
    def available(self) -> bool:
        return self.lower_rank is not None and self.upper_rank is not None


def order_statistic_coverage(n: int, p: float | str | Fraction, lower: int, upper: int) -> float:
    """P(X(lower) ≤ ξ_p ≤ X(upper)) = P(lower ≤ Bin(n, p) ≤ upper − 1) for continuous F."""
    if not 1 <= lower < upper <= n:
        raise ValueError(f"need 1 ≤ lower < upper ≤ n, got {lower}, {upper}, n = {n}")
    q = float(as_fraction(p))
    return float(1.0 - sps.binom.cdf(lower - 1, n, q) - sps.binom.sf(upper - 1, n, q))


def min_n_two_sided(p: float | str | Fraction, confidence: float = 0.95) -> int:
    """Smallest n for which [X(1), X(n)] covers ξ_p with the confidence: 1 − pⁿ − (1 − p)ⁿ.

    Below it no two-sided interval exists under either rule (e.g. 6 for the median at
    95 %, 2995 for the 99.9th percentile: the sample maximum is then just enough).
    """
    q = float(_check_p(p))
    _check_confidence(confidence)
    alpha = 1.0 - confidence
    n = max(2, math.floor(math.log(alpha) / math.log(max(q, 1 - q))) - 2)
    while q**n + (1 - q) ** n > alpha:
        n += 1
    while n > 2 and q ** (n - 1) + (1 - q) ** (n - 1) <= alpha:
        n -= 1
    return n


def quantile_ci_ranks(
    n: int, p: float | str | Fraction, confidence: float = 0.95, *, rule: str = "equal-tailed"
) -> QuantileInterval:
    """Ranks (l, u) of a two-sided ``confidence`` interval for ξ_p from n values."""
    q = _check_p(p)
    _check_confidence(confidence)
    if rule not in RULES:
        raise ValueError(f"rule must be one of {RULES}, not {rule!r}")
    if int(n) != n or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    n = int(n)
    unavailable = QuantileInterval(rule, q, n, confidence, None, None, math.nan)
    if n < 2 or n < min_n_two_sided(q, confidence):
        need = min_n_two_sided(q, confidence)
        return replace(
            unavailable,
            reason=f"n = {n} is too small: even [X(1), X(n)] covers the {float(q):.6g}-quantile "
            f"with probability below {confidence:g}; need n ≥ {need}",
        )
    k = np.arange(n + 1)
    below = sps.binom.cdf(k, n, float(q))  # below[j] = P(B ≤ j) = P(X(j+1) > ξ_p)
    above = sps.binom.sf(k, n, float(q))  # above[j] = P(B > j) = P(X(j+1) < ξ_p)
    alpha = 1.0 - confidence
    if rule == "equal-tailed":
        ranks = _equal_tailed(below, above, alpha, n)
        if ranks is None:
            return replace(
                unavailable,
                reason=f"n = {n} is too small for equal tails of {alpha / 2:g} each at the "
                f"{float(q):.6g}-quantile; the 'shortest' rule may still give an interval",
            )
    else:
        ranks = _shortest(below, above, alpha, n, float(q))
        if ranks is None:  # only at a rounding knife-edge of min_n_two_sided
            return replace(unavailable, reason=f"n = {n} is too small at {confidence:g}")
    lo, hi = ranks
    coverage = float(1.0 - below[lo - 1] - above[hi - 1])
    return QuantileInterval(rule, q, n, confidence, lo, hi, coverage)


def quantile_ci(
    values: np.ndarray,
    p: float | str | Fraction,
    confidence: float = 0.95,
    *,
    rule: str = "equal-tailed",
    lost: str = "infinite",
) -> QuantileInterval:
    """Two-sided distribution-free interval for the p-quantile of a sample; NaN = lost.

    ``lost="infinite"`` counts a lost packet as +∞ (RFC 7679 §4), so an interval can end at
    +∞; ``lost="exclude"`` uses delivered packets only (the conditional distribution).
    """
    if lost not in LOST_CONVENTIONS:
        raise ValueError(f"lost must be one of {LOST_CONVENTIONS}, not {lost!r}")
    data = np.asarray(values, dtype=np.float64).ravel()
    missing = np.isnan(data)
    data = data[~missing] if lost == "exclude" else np.where(missing, np.inf, data)
    result = quantile_ci_ranks(data.size, p, confidence, rule=rule)
    if not result.available:
        return result
    data = np.sort(data)
    assert result.lower_rank is not None and result.upper_rank is not None
    return replace(
        result, lower=float(data[result.lower_rank - 1]), upper=float(data[result.upper_rank - 1])
    )


def _equal_tailed(
    below: np.ndarray, above: np.ndarray, alpha: float, n: int
) -> tuple[int, int] | None:
    lows = np.flatnonzero(below[:n] <= alpha / 2)  # index j ↔ rank l = j + 1
    highs = np.flatnonzero(above[:n] <= alpha / 2)  # index j ↔ rank u = j + 1
    if lows.size == 0 or highs.size == 0:
        return None
    return int(lows[-1]) + 1, int(highs[0]) + 1


def _shortest(
    below: np.ndarray, above: np.ndarray, alpha: float, n: int, q: float
) -> tuple[int, int] | None:
    """Per lower rank l, the smallest u with coverage ≥ 1 − α; then the shortest span."""
    lows = np.arange(1, n)  # candidate l = 1 … n − 1
    budget = alpha - below[lows - 1]
    # above[0:n] is non-increasing: the first index with above ≤ budget is the smallest u − 1.
    idx = np.searchsorted(-above[:n], -budget, side="left")
    idx = np.maximum(idx, lows)  # u > l
    # Guard rounding: the pair must satisfy the same sum the coverage is computed from.
    short = below[lows - 1] + above[np.minimum(idx, n - 1)] > alpha
    idx = np.where(short, idx + 1, idx)
    ok = (budget >= 0) & (idx < n)
    ok &= below[lows - 1] + above[np.minimum(idx, n - 1)] <= alpha
    if not ok.any():
        return None
    lows, ups = lows[ok], idx[ok] + 1
    spans = ups - lows
    best = spans == spans.min()
    lows, ups = lows[best], ups[best]
    cover = 1.0 - below[lows - 1] - above[ups - 1]
    near = cover <= cover.min() + _TIE
    lows, ups = lows[near], ups[near]
    off_centre = np.abs((lows + ups) / 2 - (n + 1) * q)
    pick = np.flatnonzero(off_centre <= off_centre.min() + 1e-9)[0]
    return int(lows[pick]), int(ups[pick])


def _check_p(p: float | str | Fraction) -> Fraction:
    q = as_fraction(p)
    if not 0 < q < 1:
        raise ValueError(f"a two-sided interval needs 0 < p < 1, got {p!r}")
    return q


def _check_confidence(confidence: float) -> None:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence!r}")
