"""Proportion intervals (docs/methods.md §9.1, §9.2; vectors V21, V22) against SciPy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binomtest

from qos_analysis.stats.proportions import (
    clopper_pearson,
    clopper_pearson_lower,
    clopper_pearson_upper,
    wilson,
    wilson_cc,
    wilson_lower,
    wilson_upper,
    zero_failure_n,
)


def test_v21_clopper_pearson_7_of_50() -> None:
    lo, hi = clopper_pearson(7, 50, 0.95)
    assert lo == pytest.approx(0.058191700, abs=1e-9)
    assert hi == pytest.approx(0.267396002, abs=1e-9)


@pytest.mark.parametrize("n", [1, 2, 10, 50, 333, 3000])
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_against_scipy_binomtest(n: int, confidence: float) -> None:
    ks = sorted({0, 1, n // 3, n // 2, max(0, n - 1), n})
    for k in ks:
        ref = binomtest(k, n).proportion_ci(confidence_level=confidence, method="exact")
        lo, hi = clopper_pearson(k, n, confidence)
        assert lo == pytest.approx(ref.low, abs=1e-12)
        assert hi == pytest.approx(ref.high, abs=1e-12)
        ref_w = binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
        wlo, whi = wilson(k, n, confidence)
        assert wlo == pytest.approx(ref_w.low, abs=1e-12)
        assert whi == pytest.approx(ref_w.high, abs=1e-12)
        # One-sided bounds are the two-sided bounds at level 2·confidence − 1.
        ref1 = binomtest(k, n).proportion_ci(confidence_level=2 * confidence - 1, method="exact")
        assert clopper_pearson_upper(k, n, confidence) == pytest.approx(ref1.high, abs=1e-12)
        assert clopper_pearson_lower(k, n, confidence) == pytest.approx(ref1.low, abs=1e-12)
        ref_w1 = binomtest(k, n).proportion_ci(confidence_level=2 * confidence - 1, method="wilson")
        assert wilson_upper(k, n, confidence) == pytest.approx(ref_w1.high, abs=1e-12)
        assert wilson_lower(k, n, confidence) == pytest.approx(ref_w1.low, abs=1e-12)


def test_vectorised_and_empty_sample() -> None:
    lo, hi = clopper_pearson(np.array([0, 7, 0]), np.array([10, 50, 0]))
    assert math.isnan(lo[2]) and math.isnan(hi[2])  # a ratio of nothing is undefined
    assert lo[1] == pytest.approx(0.058191700, abs=1e-9)
    with pytest.raises(ValueError):
        clopper_pearson(5, 4)


def test_v22_zero_failure_sample_size() -> None:
    assert zero_failure_n(1e-3, 0.95) == 2995
    # The one-sided Clopper–Pearson bound agrees: 2995 loss-free packets just suffice.
    assert clopper_pearson_upper(0, 2995, 0.95) <= 1e-3 < clopper_pearson_upper(0, 2994, 0.95)
    assert zero_failure_n(1e-5, 0.95) == math.ceil(math.log(0.05) / math.log1p(-1e-5))


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 5000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
    st.sampled_from([0.8, 0.9, 0.95, 0.99]),
)
def test_intervals_contain_the_estimate_and_nest(kn: tuple[int, int], conf: float) -> None:
    k, n = kn
    p = k / n
    lo, hi = clopper_pearson(k, n, conf)
    wlo, whi = wilson(k, n, conf)
    assert 0 <= lo <= p <= hi <= 1
    assert 0 <= wlo <= p <= whi <= 1
    # One-sided bounds are tighter than the two-sided ones at the same level.
    assert clopper_pearson_upper(k, n, conf) <= hi + 1e-15
    assert clopper_pearson_lower(k, n, conf) >= lo - 1e-15


def test_wilson_cc_matches_scipy_over_a_grid() -> None:
    """Newcombe (1998) method 4 against scipy's ``wilsoncc``, every k including 0 and n."""
    worst = 0.0
    cases = 0
    for n in (*range(1, 41), 97, 1000, 12345):
        ks = range(n + 1) if n <= 40 else (0, 1, 2, n // 3, n // 2, n - 2, n - 1, n)
        for k in ks:
            for confidence in (0.5, 0.8, 0.9, 0.95, 0.99, 0.999):
                ref = binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilsoncc")
                lo, hi = wilson_cc(k, n, confidence)
                worst = max(worst, abs(lo - ref.low), abs(hi - ref.high))
                cases += 1
                if k == 0:
                    assert lo == 0.0
                if k == n:
                    assert hi == 1.0
    assert cases > 5000
    assert worst <= 1e-12


def test_wilson_cc_is_vectorised_wider_than_wilson_and_refuses_bad_counts() -> None:
    k = np.array([0, 3, 7, 50])
    n = np.array([10, 10, 50, 50])
    lo, hi = wilson_cc(k, n, 0.95)
    plain_lo, plain_hi = wilson(k, n, 0.95)
    for i in range(k.size):
        assert (lo[i], hi[i]) == wilson_cc(int(k[i]), int(n[i]), 0.95)
    assert np.all(lo <= plain_lo) and np.all(hi >= plain_hi)
    assert all(math.isnan(x) for x in wilson_cc(0, 0))
    with pytest.raises(ValueError):
        wilson_cc(5, 4)
