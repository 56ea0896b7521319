"""What an inconclusive verdict lacks: why a bound is infinite and how many more samples
would decide it.

"Inconclusive" alone tells a user nothing they can act on.  For a ratio judged with a
Clopper–Pearson bound (loss ratio, share of tests meeting a threshold; Clopper & Pearson
1934) the number of further samples that would decide the objective, if they all went well,
is found by searching the exact bound; for a percentile the distribution-free order
statistic bound (Hahn & Meeker, *Statistical Intervals*, §5.2) exists only from a
minimum sample size on.
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import lru_cache

import numpy as np

from qos.profiles import Objective
from qos_analysis.stats.proportions import clopper_pearson_lower, clopper_pearson_upper
from qos_analysis.stats.quantiles import min_samples_for_upper_bound as _min_samples

# Both searches depend only on a few numbers that repeat across thousands of (scope,
# window) groups of one objective; caching them keeps the explanations off the scoring
# time (each uncached search is tens of SciPy calls).
_CACHE_SIZE = 4096
_RATIO_CACHE_SIZE = 2**16


@lru_cache(maxsize=_CACHE_SIZE)
def min_samples_for_upper_bound(p: Fraction | float, confidence: float) -> int:
    """:func:`qos_analysis.stats.quantiles.min_samples_for_upper_bound`, cached."""
    return _min_samples(p, confidence)


_SEARCH_CAP = 10**10


def _percentile_label(obj: Objective) -> str:
    return _label(obj.statistic, obj.percentile)


@lru_cache(maxsize=_CACHE_SIZE)
def _label(statistic: str, percentile: Fraction | float | None) -> str:
    if percentile is None:
        return "median" if statistic == "median" else statistic
    return f"p{float(percentile * 100):g}"


#: (statistic, percentile as integers, confidence) → (smallest n with a finite upper bound,
#: label): a Fraction key would be hashed afresh for each of thousands of groups.
_UPPER_BOUND_FACTS: dict[tuple[object, ...], tuple[int, str]] = {}


def _upper_bound_facts(obj: Objective, confidence: float) -> tuple[int, str]:
    p = obj.percentile if obj.percentile is not None else 0.5
    exact = (p.numerator, p.denominator) if isinstance(p, Fraction) else (p,)
    key = (obj.statistic, *exact, confidence)
    facts = _UPPER_BOUND_FACTS.get(key)
    if facts is None:
        facts = (min_samples_for_upper_bound(p, confidence), _percentile_label(obj))
        if len(_UPPER_BOUND_FACTS) < _CACHE_SIZE:
            _UPPER_BOUND_FACTS[key] = facts
    return facts


def infinite_bound_reason(
    obj: Objective, n: int, lower: float, upper: float, confidence: float
) -> str:
    """Why the deciding bound is ±∞, in words ("" when it is finite)."""
    deciding = upper if obj.comparison == "<=" else lower
    if math.isfinite(deciding) or math.isnan(deciding):
        return ""
    if obj.statistic == "mean":
        return "bound ∞: at least one failed transaction counts as +∞ in the mean"
    if obj.statistic in ("percentile", "median", "pseudo_range") and obj.comparison == "<=":
        needed, label = _upper_bound_facts(obj, confidence)
        if n < needed:
            return (
                f"upper bound ∞: {n:,} samples cannot bound the {label} from above at "
                f"{confidence:.0%} confidence (needs ≥ {needed:,})"
            )
        if obj.lost == "infinite":
            return (
                "upper bound ∞: lost packets count as +∞ (RFC 7679 §3.5) and enough of them "
                f"lie above the {label}'s bounding rank"
            )
    return "bound ∞"


def _ratio_decided(
    comparison: str, count: np.ndarray, n: np.ndarray, extra: np.ndarray, limit: float, conf: float
) -> np.ndarray:
    """Whether ``extra`` further favourable samples make each ratio's bound decide a pass."""
    if comparison == "<=":
        return np.asarray(clopper_pearson_upper(count, n + extra, conf)) <= limit
    return np.asarray(clopper_pearson_lower(count + extra, n + extra, conf)) >= limit


def _search_extra(
    comparison: str, count: np.ndarray, n: np.ndarray, limit: float, conf: float
) -> np.ndarray:
    """Fewest further favourable samples deciding each ratio (−1: none up to 10¹⁰).

    A doubling search for a sufficient number, then bisection between it and its half,
    run on every ratio at once: one vectorised bound evaluation per step.  The bound is
    evaluated element by element, so each result is the one a search of that ratio alone
    finds.
    """
    high = np.ones(count.size, dtype=np.int64)
    found = np.zeros(count.size, dtype=bool)
    todo = np.arange(count.size)
    while todo.size:
        ok = _ratio_decided(comparison, count[todo], n[todo], high[todo], limit, conf)
        found[todo[ok]] = True
        todo = todo[~ok]
        high[todo] *= 2
        todo = todo[high[todo] <= _SEARCH_CAP]
    low = high // 2
    todo = np.flatnonzero(found & (low + 1 < high))
    while todo.size:
        mid = (low[todo] + high[todo]) // 2
        ok = _ratio_decided(comparison, count[todo], n[todo], mid, limit, conf)
        high[todo[ok]] = mid[ok]
        low[todo[~ok]] = mid[~ok]
        todo = todo[low[todo] + 1 < high[todo]]
    return np.where(found, high, -1)


def _no_extra_decides(comparison: str, limit: float) -> bool:
    return (comparison == ">=" and limit >= 1.0) or (comparison == "<=" and limit <= 0.0)


RatioKey = tuple[str, int, int, float, float]
_RATIO_CACHE: dict[RatioKey, int | None] = {}


def prime_ratio_searches(
    comparison: str, counts: np.ndarray, ns: np.ndarray, limit: float, confidence: float
) -> None:
    """Run the searches of many ratios k/n of one objective at once (vectorised) and keep
    the answers for :func:`extra_samples_for_ratio`: the scalar search costs tens of SciPy
    calls per ratio, thousands of times per objective on a large panel."""
    if _no_extra_decides(comparison, limit):
        return
    pairs = np.unique(np.stack([counts, ns]).astype(np.int64), axis=1)
    keys = [(comparison, k, n, limit, confidence) for k, n in pairs.T.tolist()]
    wanted = [i for i, key in enumerate(keys) if key not in _RATIO_CACHE]
    if not wanted:
        return
    if len(_RATIO_CACHE) + len(wanted) > _RATIO_CACHE_SIZE:
        _RATIO_CACHE.clear()
    sel = np.asarray(wanted)
    extra = _search_extra(comparison, pairs[0, sel], pairs[1, sel], limit, confidence)
    for i, e in zip(wanted, extra.tolist(), strict=True):
        _RATIO_CACHE[keys[i]] = None if e < 0 else e


def extra_samples_for_ratio(
    comparison: str, count: int, n: int, limit: float, confidence: float
) -> int | None:
    """Fewest further samples, all favourable, that make the ratio's bound decide a pass.

    For "≤ limit" (loss) further samples are event-free; for "≥ limit" (share meeting a
    threshold) every further sample meets it.  ``None`` when no number up to 10¹⁰ does.
    """
    if _no_extra_decides(comparison, limit):
        return None
    key = (comparison, count, n, limit, confidence)
    if key not in _RATIO_CACHE:
        prime_ratio_searches(comparison, np.array([count]), np.array([n]), limit, confidence)
    return _RATIO_CACHE[key]


def more_samples_to_decide(
    obj: Objective,
    n: int,
    count: int | None,
    limit: float,
    confidence: float,
    favourable: str = "samples meeting the threshold",
) -> str:
    """A sentence saying what further data would decide the objective ("" if unknown);
    ``favourable`` names the further samples of a ratio k/n ("loss-free packets")."""
    if count is not None and n > 0:
        extra = extra_samples_for_ratio(obj.comparison, count, n, limit, confidence)
        if extra is None:
            return ""
        what = favourable
        return f"{extra:,} more {what} would decide it (pass at {confidence:.0%} confidence)"
    if obj.statistic in ("percentile", "pseudo_range") and obj.comparison == "<=":
        p = obj.percentile if obj.percentile is not None else 0.5
        needed = min_samples_for_upper_bound(p, confidence)
        if n < needed:
            return f"{needed - n:,} more samples give the {_percentile_label(obj)} a finite bound"
    return ""
