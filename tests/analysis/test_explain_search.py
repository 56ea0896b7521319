"""The "how many more samples would decide it" search: the vectorised search over many
ratios gives, for each, the fewest further favourable samples whose Clopper–Pearson bound
decides a pass (one fewer does not), the same answer as a search of that ratio alone."""

from __future__ import annotations

import numpy as np
import pytest

from qos_analysis.scoring import explain
from qos_analysis.stats.proportions import clopper_pearson_lower, clopper_pearson_upper


def _decided(comparison: str, k: int, n: int, extra: int, limit: float, conf: float) -> bool:
    if comparison == "<=":
        return float(clopper_pearson_upper(k, n + extra, conf)) <= limit
    return float(clopper_pearson_lower(k + extra, n + extra, conf)) >= limit


@pytest.mark.parametrize(
    ("comparison", "limit"), [("<=", 1e-3), ("<=", 1e-5), (">=", 0.95), (">=", 0.999)]
)
def test_each_answer_is_the_fewest_samples_that_decide(comparison: str, limit: float) -> None:
    rng = np.random.default_rng(7)
    n = rng.integers(1, 3000, 60)
    k = (rng.random(60) * n * rng.choice([0.0, 0.002, 0.05, 0.6], 60)).astype(np.int64)
    if comparison == ">=":
        k = n - k
    explain._RATIO_CACHE.clear()
    explain.prime_ratio_searches(comparison, k, n, limit, 0.95)
    assert len(explain._RATIO_CACHE) == len(set(zip(k.tolist(), n.tolist(), strict=True)))
    answered = 0
    for kk, nn in zip(k.tolist(), n.tolist(), strict=True):
        extra = explain.extra_samples_for_ratio(comparison, kk, nn, limit, 0.95)
        if extra is None:  # nothing up to 10^10 decides (e.g. too many losses already)
            assert not _decided(comparison, kk, nn, 10**10, limit, 0.95)
            continue
        answered += 1
        assert _decided(comparison, kk, nn, extra, limit, 0.95)
        assert extra == 1 or not _decided(comparison, kk, nn, extra - 1, limit, 0.95)
    assert answered >= 20


def test_a_single_ratio_is_searched_on_demand_and_impossible_limits_have_no_answer() -> None:
    explain._RATIO_CACHE.clear()
    # 0 losses in 100 packets: 0.95 upper bound 1 − 0.05^(1/n) ≤ 1e-3 needs n ≥ 2995.
    assert explain.extra_samples_for_ratio("<=", 0, 100, 1e-3, 0.95) == 2995 - 100
    assert explain.extra_samples_for_ratio("<=", 0, 100, 0.0, 0.95) is None
    assert explain.extra_samples_for_ratio(">=", 100, 100, 1.0, 0.95) is None
