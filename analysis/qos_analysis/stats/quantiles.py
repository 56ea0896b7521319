"""RFC 2330 percentiles with exact ranks, vectorised, and order-statistic confidence bounds.

* Point estimate (docs/methods.md §6.4; RFC 2330 §11.3): the smallest x whose empirical CDF
  F(x) ≥ p, i.e. the order statistic X(⌈p·n⌉) — numpy ``quantile(x, q,
  method="inverted_cdf")`` with q passed as a fraction.  The rank is computed with integer
  arithmetic on an exact :class:`~fractions.Fraction` (docs/methods.md §1.3: 99.9/100 is
  0.9990000000000001 in floating point, which moves the rank by one).
* Distribution-free bounds (docs/methods.md §9.3): X(u) is a (1 − α) upper bound for the
  q-quantile ξ_q when Bin_cdf(u − 1; n, q) ≥ 1 − α; X(l) is a (1 − α) lower bound when
  Bin_cdf(l − 1; n, q) ≤ α.  With the sample maximum (u = n) this needs qⁿ ≤ α, e.g.
  n ≥ 2995 for the 99.9th percentile at 95 % (vector V23).

Agrees with the stdlib reference :func:`qos.metrics.percentile` (tested).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from scipy import stats as sps


def as_fraction(p: float | int | str | Fraction) -> Fraction:
    """Exact probability: ``"99.9%"`` → 999/1000, ``0.999`` → 999/1000 (from its repr)."""
    if isinstance(p, Fraction):
        q = p
    elif isinstance(p, str):
        text = p.strip()
        q = Fraction(text[:-1].strip()) / 100 if text.endswith("%") else Fraction(text)
    elif isinstance(p, float):
        q = Fraction(repr(p))
    elif isinstance(p, int | np.integer):
        q = Fraction(int(p))
    else:
        raise TypeError(f"cannot read a probability from {p!r}")
    if not 0 <= q <= 1:
        raise ValueError(f"probability must lie in [0, 1], got {p!r}")
    return q


def rank(n: int | np.ndarray, p: float | str | Fraction) -> np.ndarray:
    """1-based RFC 2330 rank ⌈p·n⌉ for sample sizes ``n`` (array), exact integer arithmetic.

    Rank 0 means the RFC's −∞ (p = 0); callers treat n = 0 as undefined.
    """
    q = as_fraction(p)
    counts = np.asarray(n, dtype=np.int64)
    if q.denominator < 2**20 and (counts.size == 0 or int(counts.max(initial=0)) < 2**40):
        return -((-q.numerator * counts) // q.denominator)
    # Huge denominators: fall back to Python integers (exact, slower).
    flat = [-((-q.numerator * int(c)) // q.denominator) for c in counts.ravel()]
    return np.asarray(flat, dtype=np.int64).reshape(counts.shape)


def percentile(values: np.ndarray, p: float | str | Fraction, *, lost: str = "exclude") -> float:
    """RFC 2330 percentile of a 1-D sample; NaN marks a lost packet.

    ``lost="exclude"`` uses delivered packets only (conditional distribution);
    ``lost="infinite"`` treats a loss as +∞ (RFC 7679 §4).  Returns NaN for an empty sample
    and −∞ for p = 0.
    """
    data = np.asarray(values, dtype=np.float64)
    missing = np.isnan(data)
    data = data[~missing] if lost == "exclude" else np.where(missing, np.inf, data)
    n = data.size
    if n == 0:
        return math.nan
    k = int(rank(n, p))
    if k == 0:
        return -math.inf
    return float(np.partition(data, k - 1)[k - 1])


def median_rfc7679(values: np.ndarray, *, lost: str = "infinite") -> float:
    """RFC 7679 §5.2 median: the mean of the two central values when N is even (§6.4).

    NaN marks a lost packet, which RFC 7679 §4 counts as +∞ (``lost="infinite"``, the
    default, as :func:`qos.metrics.median`); the median of delivered packets only must be
    asked for by name, ``lost="exclude"``.
    """
    if lost not in ("infinite", "exclude"):
        raise ValueError(f"lost must be 'infinite' or 'exclude', not {lost!r}")
    data = np.asarray(values, dtype=np.float64)
    missing = np.isnan(data)
    data = data[~missing] if lost == "exclude" else np.where(missing, np.inf, data)
    n = data.size
    if n == 0:
        return math.nan
    data = np.sort(data)
    if n % 2:
        return float(data[n // 2])
    low, high = data[n // 2 - 1], data[n // 2]
    if np.isinf(low) and np.isinf(high):
        return float(high)
    return float((low + high) / 2)


def inverse_percentile(values: np.ndarray, threshold: float) -> float:
    """RFC 7679 §5.4 (deprecated there): share of values ≤ threshold, losses as +∞."""
    data = np.asarray(values, dtype=np.float64)
    if data.size == 0:
        return math.nan
    return float(np.count_nonzero(np.where(np.isnan(data), np.inf, data) <= threshold) / data.size)


def upper_bound_rank(
    n: int | np.ndarray, p: float | str | Fraction, confidence: float = 0.95
) -> np.ndarray:
    """Smallest rank u with P(X(u) ≥ ξ_p) ≥ confidence; ``n + 1`` when no such rank exists.

    docs/methods.md §9.3: P(X(u) ≥ ξ_p) = Bin_cdf(u − 1; n, p) for continuous data.
    """
    counts = np.atleast_1d(np.asarray(n, dtype=np.int64))
    q = float(as_fraction(p))
    out = np.full(counts.shape, 0, dtype=np.int64)
    positive = counts > 0
    k = sps.binom.ppf(confidence, counts[positive], q)  # smallest k: cdf(k) ≥ confidence
    k = np.where(np.isnan(k), counts[positive], k).astype(np.int64)
    # Guard ppf's floating-point search: step until cdf(k) ≥ confidence > cdf(k − 1).
    cdf = sps.binom.cdf(k, counts[positive], q)
    k = np.where(cdf < confidence, k + 1, k)
    prev = sps.binom.cdf(k - 1, counts[positive], q)
    k = np.where((k > 0) & (prev >= confidence), k - 1, k)
    out[positive] = k + 1
    return out if np.ndim(n) else out[:1].reshape(())


def lower_bound_rank(
    n: int | np.ndarray, p: float | str | Fraction, confidence: float = 0.95
) -> np.ndarray:
    """Largest rank l with P(X(l) ≤ ξ_p) ≥ confidence; 0 when no such rank exists.

    docs/methods.md §9.3: P(X(l) ≤ ξ_p) = 1 − Bin_cdf(l − 1; n, p).
    """
    counts = np.atleast_1d(np.asarray(n, dtype=np.int64))
    q = float(as_fraction(p))
    alpha = 1.0 - confidence
    out = np.zeros(counts.shape, dtype=np.int64)
    positive = counts > 0
    m = counts[positive]
    k = sps.binom.ppf(alpha, m, q)  # smallest k with cdf(k) ≥ α
    k = np.where(np.isnan(k), 0, k).astype(np.int64)
    cdf = sps.binom.cdf(k, m, q)
    # largest k with cdf(k) ≤ α
    k = np.where(cdf > alpha, k - 1, k)
    nxt = sps.binom.cdf(k + 1, m, q)
    k = np.where((k + 1 <= m) & (nxt <= alpha), k + 1, k)
    out[positive] = np.maximum(k + 1, 0)
    return out if np.ndim(n) else out[:1].reshape(())


def quantile_bounds(
    values: np.ndarray,
    p: float | str | Fraction,
    confidence: float = 0.95,
    *,
    lost: str = "exclude",
) -> tuple[float, float]:
    """One-sided distribution-free (lower, upper) bounds for the p-quantile of a sample.

    Each bound holds with probability ≥ ``confidence`` on its own.  −∞ / +∞ when the sample
    is too small to give that bound (e.g. fewer than 2995 packets for a 95 % upper bound on
    the 99.9th percentile, docs/methods.md §9.3).
    """
    data = np.asarray(values, dtype=np.float64)
    missing = np.isnan(data)
    data = data[~missing] if lost == "exclude" else np.where(missing, np.inf, data)
    n = data.size
    if n == 0:
        return (math.nan, math.nan)
    data = np.sort(data)
    u = int(upper_bound_rank(n, p, confidence))
    lo = int(lower_bound_rank(n, p, confidence))
    upper = float(data[u - 1]) if u <= n else math.inf
    lower = float(data[lo - 1]) if lo >= 1 else -math.inf
    return (lower, upper)


def min_samples_for_upper_bound(
    p: float | str | Fraction, confidence: float = 0.95, j: int = 1
) -> int:
    """Smallest n for which the j-th largest value is a ``confidence`` upper bound of ξ_p.

    j = 1 (sample maximum): n = ⌈ln α / ln p⌉ — 2995 for p = 0.999, 95 % (docs/methods.md §9.3).
    """
    q = float(as_fraction(p))
    n = max(j, math.ceil(math.log(1 - confidence) / math.log(q)) - 2)
    while int(upper_bound_rank(n, p, confidence)) > n - j + 1:
        n += 1
    return n
