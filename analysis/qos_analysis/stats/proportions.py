"""Confidence intervals for a proportion: loss ratios and "share of tests meeting X".

docs/methods.md §9.1 (Wilson score, Clopper–Pearson exact, one-sided bounds) and §9.2
(zero-failure demonstration).  All functions accept scalars or numpy arrays of k and n.
Oracle: ``scipy.stats.binomtest(k, n).proportion_ci(method="exact" | "wilson")``
(vector V21: 7/50 at 95 % → (0.0581917, 0.2673960)).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats as sps
from scipy.special import ndtri

ArrayLike = float | int | np.ndarray


def _check(k: ArrayLike, n: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    k_arr = np.asarray(k, dtype=np.float64)
    n_arr = np.asarray(n, dtype=np.float64)
    if np.any(n_arr < 0) or np.any(k_arr < 0) or np.any(k_arr > n_arr):
        raise ValueError("need 0 ≤ k ≤ n")
    return k_arr, n_arr


def _out(value: np.ndarray) -> np.ndarray | float:
    return float(value) if np.ndim(value) == 0 else value


def clopper_pearson(
    k: ArrayLike, n: ArrayLike, confidence: float = 0.95
) -> tuple[np.ndarray | float, np.ndarray | float]:
    """Two-sided exact interval: Beta⁻¹(α/2; k, n−k+1), Beta⁻¹(1−α/2; k+1, n−k) (§9.1).

    NaN for n = 0 (a proportion of nothing is undefined, never "0 % loss").
    """
    k_arr, n_arr = _check(k, n)
    alpha = 1.0 - confidence
    with np.errstate(invalid="ignore", divide="ignore"):
        lower = np.where(k_arr == 0, 0.0, sps.beta.ppf(alpha / 2, k_arr, n_arr - k_arr + 1))
        upper = np.where(k_arr == n_arr, 1.0, sps.beta.ppf(1 - alpha / 2, k_arr + 1, n_arr - k_arr))
    lower = np.where(n_arr == 0, np.nan, lower)
    upper = np.where(n_arr == 0, np.nan, upper)
    return _out(lower), _out(upper)


def clopper_pearson_upper(
    k: ArrayLike, n: ArrayLike, confidence: float = 0.95
) -> np.ndarray | float:
    """One-sided upper bound Beta⁻¹(1−α; k+1, n−k): what "loss ≤ p0" needs (§9.1)."""
    k_arr, n_arr = _check(k, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        upper = np.where(k_arr == n_arr, 1.0, sps.beta.ppf(confidence, k_arr + 1, n_arr - k_arr))
    return _out(np.where(n_arr == 0, np.nan, upper))


def clopper_pearson_lower(
    k: ArrayLike, n: ArrayLike, confidence: float = 0.95
) -> np.ndarray | float:
    """One-sided lower bound Beta⁻¹(α; k, n−k+1) (0 when k = 0)."""
    k_arr, n_arr = _check(k, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        lower = np.where(k_arr == 0, 0.0, sps.beta.ppf(1 - confidence, k_arr, n_arr - k_arr + 1))
    return _out(np.where(n_arr == 0, np.nan, lower))


def wilson(
    k: ArrayLike, n: ArrayLike, confidence: float = 0.95
) -> tuple[np.ndarray | float, np.ndarray | float]:
    """Two-sided Wilson score interval (§9.1), z = Φ⁻¹(1 − α/2)."""
    k_arr, n_arr = _check(k, n)
    z = sps.norm.ppf(1 - (1 - confidence) / 2)
    return _wilson(k_arr, n_arr, z)


def wilson_upper(k: ArrayLike, n: ArrayLike, confidence: float = 0.95) -> np.ndarray | float:
    """One-sided Wilson upper bound (z = Φ⁻¹(1 − α))."""
    k_arr, n_arr = _check(k, n)
    return _wilson(k_arr, n_arr, sps.norm.ppf(confidence))[1]


def wilson_lower(k: ArrayLike, n: ArrayLike, confidence: float = 0.95) -> np.ndarray | float:
    """One-sided Wilson lower bound (z = Φ⁻¹(1 − α))."""
    k_arr, n_arr = _check(k, n)
    return _wilson(k_arr, n_arr, sps.norm.ppf(confidence))[0]


def _wilson(
    k: np.ndarray, n: np.ndarray, z: float
) -> tuple[np.ndarray | float, np.ndarray | float]:
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        denom = 1 + z * z / n
        centre = (p + z * z / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
        # Exactly 0 / 1 at the edges (k = 0, k = n), where rounding would land a hair inside.
        lower = np.where(k == 0, 0.0, np.clip(centre - half, 0.0, 1.0))
        upper = np.where(k == n, 1.0, np.clip(centre + half, 0.0, 1.0))
    lower = np.where(n == 0, np.nan, lower)
    upper = np.where(n == 0, np.nan, upper)
    return _out(lower), _out(upper)


def wilson_cc(
    k: ArrayLike, n: ArrayLike, confidence: float = 0.95
) -> tuple[np.ndarray | float, np.ndarray | float]:
    """Two-sided Wilson score interval with continuity correction, z = Φ⁻¹(1 − α/2).

    Wilson (1927), J. Am. Stat. Assoc. 22:209–212, with the continuity correction in the
    closed form of Newcombe (1998), Stat. Med. 17:857–872, method 4:
    L = (2np̂ + z² − 1 − z·√(z² − 2 − 1/n + 4p̂(nq̂ + 1))) / (2(n + z²)), L = 0 when k = 0;
    U = (2np̂ + z² + 1 + z·√(z² + 2 − 1/n + 4p̂(nq̂ − 1))) / (2(n + z²)), U = 1 when k = n.
    Wider than :func:`wilson` and closer to Clopper–Pearson's guaranteed coverage; same
    result as ``scipy.stats.binomtest(k, n).proportion_ci(method="wilsoncc")``.
    NaN for n = 0.
    """
    k_arr, n_arr = _check(k, n)
    z = float(ndtri(0.5 + 0.5 * confidence))
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k_arr / n_arr
        q = 1 - p
        denom = 2 * (n_arr + z**2)
        centre = (2 * n_arr * p + z**2) / denom
        dlo = (1 + z * np.sqrt(z**2 - 2 - 1 / n_arr + 4 * p * (n_arr * q + 1))) / denom
        dhi = (1 + z * np.sqrt(z**2 + 2 - 1 / n_arr + 4 * p * (n_arr * q - 1))) / denom
        lower = np.where(k_arr == 0, 0.0, centre - dlo)
        upper = np.where(k_arr == n_arr, 1.0, centre + dhi)
    lower = np.where(n_arr == 0, np.nan, lower)
    upper = np.where(n_arr == 0, np.nan, upper)
    return _out(lower), _out(upper)


def zero_failure_n(p0: float, confidence: float = 0.95) -> int:
    """Events-free trials needed to show p ≤ p0: ⌈ln α / ln(1 − p0)⌉ (§9.2; V22 → 2995)."""
    if not 0 < p0 < 1:
        raise ValueError("p0 must lie strictly between 0 and 1")
    n = math.ceil(math.log(1 - confidence) / math.log1p(-p0))
    # Guard the logarithms' rounding with the exact criterion (1 − p0)^n ≤ α.
    while n > 1 and (1 - p0) ** (n - 1) <= 1 - confidence:
        n -= 1
    while (1 - p0) ** n > 1 - confidence:
        n += 1
    return n
