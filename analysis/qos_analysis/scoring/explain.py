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

from qos.profiles import Objective
from qos_analysis.stats.proportions import clopper_pearson_lower, clopper_pearson_upper
from qos_analysis.stats.quantiles import min_samples_for_upper_bound as _min_samples

# Both searches depend only on a few numbers that repeat across thousands of (scope,
# window) groups of one objective; caching them keeps the explanations off the scoring
# time (each uncached search is tens of SciPy calls).
_CACHE_SIZE = 4096


@lru_cache(maxsize=_CACHE_SIZE)
def min_samples_for_upper_bound(p: Fraction | float, confidence: float) -> int:
    """:func:`qos_analysis.stats.quantiles.min_samples_for_upper_bound`, cached."""
    return _min_samples(p, confidence)


_SEARCH_CAP = 10**10


def _percentile_label(obj: Objective) -> str:
    if obj.percentile is None:
        return "median" if obj.statistic == "median" else obj.statistic
    return f"p{float(obj.percentile * 100):g}"


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
        p = obj.percentile if obj.percentile is not None else 0.5
        needed = min_samples_for_upper_bound(p, confidence)
        label = _percentile_label(obj)
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


def _ratio_decided(comparison: str, events: int, n: int, limit: float, confidence: float) -> bool:
    if comparison == "<=":
        return float(clopper_pearson_upper(events, n, confidence)) <= limit
    return float(clopper_pearson_lower(events, n, confidence)) >= limit


@lru_cache(maxsize=_CACHE_SIZE)
def extra_samples_for_ratio(
    comparison: str, count: int, n: int, limit: float, confidence: float
) -> int | None:
    """Fewest further samples, all favourable, that make the ratio's bound decide a pass.

    For "≤ limit" (loss) further samples are event-free; for "≥ limit" (share meeting a
    threshold) every further sample meets it.  ``None`` when no number up to 10¹⁰ does.
    """

    def decided(extra: int) -> bool:
        events = count if comparison == "<=" else count + extra
        return _ratio_decided(comparison, events, n + extra, limit, confidence)

    if comparison == ">=" and limit >= 1.0:
        return None
    if comparison == "<=" and limit <= 0.0:
        return None
    high = 1
    while not decided(high):
        high *= 2
        if high > _SEARCH_CAP:
            return None
    low = high // 2
    while low + 1 < high:
        mid = (low + high) // 2
        if decided(mid):
            high = mid
        else:
            low = mid
    return high


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
