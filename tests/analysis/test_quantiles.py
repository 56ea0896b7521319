"""RFC 2330 percentiles and order-statistic bounds (docs/methods.md §6.4, §1.3, §9.3).

Vectors V9, V10, V11, V17, V23; oracles numpy ``inverted_cdf`` (q as a fraction) and the
stdlib reference :func:`qos.metrics.percentile`.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qos import metrics
from qos_analysis.stats.grouped import sort_groups
from qos_analysis.stats.quantiles import (
    as_fraction,
    inverse_percentile,
    lower_bound_rank,
    median_rfc7679,
    min_samples_for_upper_bound,
    percentile,
    quantile_bounds,
    rank,
    upper_bound_rank,
)

NAN = math.nan


def test_v9_rfc7679_stream1_p50() -> None:
    stream1 = np.array([100, 110, NAN, 90, 500]) / 1000
    # Undefined (lost) delays count as +infinity in RFC 7679 statistics.
    assert percentile(stream1, "50%", lost="infinite") == pytest.approx(0.110)
    assert np.quantile(
        np.where(np.isnan(stream1), np.inf, stream1), 0.5, method="inverted_cdf"
    ) == pytest.approx(0.110)


def test_v10_rfc7679_stream2_median_min_inverse_percentile() -> None:
    stream2 = np.array([100, 110, NAN, 90]) / 1000
    assert median_rfc7679(stream2, lost="infinite") == pytest.approx(0.105)
    assert np.nanmin(stream2) == pytest.approx(0.090)
    assert inverse_percentile(stream2, 0.103) == pytest.approx(0.5)


def test_v11_rfc2330_sample() -> None:
    sample = np.array([-2, 7, 7, 4, 18, -5], dtype=float)
    assert percentile(sample, "50%") == 4
    assert percentile(sample, "25%") == -2
    assert percentile(sample, "100%") == 18
    assert percentile(sample, 0) == -math.inf
    assert percentile(sample, "15%") == -5  # the definition, not the RFC's "−∞" sentence
    assert np.percentile(sample, 50) == 5.5  # numpy's default 'linear' is a different thing
    for p in ("25%", "50%", "100%", "15%"):
        q = as_fraction(p)
        assert percentile(sample, p) == np.quantile(sample, float(q), method="inverted_cdf")


def test_v17_y1541_ipdv_ramp_and_float_rank_pitfall() -> None:
    d = (20.000 + 0.010 * np.arange(1000)) / 1000
    assert percentile(d, "99.9%") == pytest.approx(0.02998)
    assert percentile(d, 0.999) == pytest.approx(0.02998)
    assert percentile(d, "99.9%") - d.min() == pytest.approx(0.00998)
    assert np.quantile(d, 0.999, method="inverted_cdf") == pytest.approx(0.02998)
    # The pitfall the exact rank avoids: 99.9/100 = 0.9990000000000001.
    assert np.percentile(d, 99.9, method="inverted_cdf") == pytest.approx(0.02999)
    assert int(rank(1000, "99.9%")) == 999


def test_rank_is_exact_for_large_n() -> None:
    n = np.array([1, 999, 1000, 1001, 10**9 + 7])
    expected = [math.ceil(Fraction(999, 1000) * int(k)) for k in n]
    assert rank(n, Fraction(999, 1000)).tolist() == expected


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.floats(-1e3, 1e3, allow_nan=False)), min_size=1, max_size=60),
    st.sampled_from(["1%", "5%", "25%", "50%", "90%", "95%", "99%", "99.9%", "100%", "1/3", "2/7"]),
)
def test_agrees_with_stdlib_reference_and_numpy(values: list[float | None], p: str) -> None:
    arr = np.array([NAN if v is None else v for v in values], dtype=float)
    q = as_fraction(p)
    for lost in ("infinite", "exclude"):
        ref = metrics.percentile(values, q, undefined=lost)
        got = percentile(arr, q, lost=lost)
        if ref is None:
            assert math.isnan(got)
        else:
            assert got == ref
    defined = arr[~np.isnan(arr)]
    if defined.size:
        assert percentile(arr, q) == np.quantile(defined, float(q), method="inverted_cdf")


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 5), st.one_of(st.none(), st.floats(0, 10))),
        min_size=1,
        max_size=200,
    )
)
def test_grouped_equals_per_group(rows: list[tuple[int, float | None]]) -> None:
    codes = np.array([g for g, _ in rows], dtype=np.int64)
    values = np.array([NAN if v is None else v for _, v in rows], dtype=float)
    for lost in ("exclude", "infinite"):
        sg = sort_groups(codes, values, 6, lost=lost)
        for p in ("50%", "95%", "99.9%"):
            got = sg.quantile(p)
            for g in range(6):
                expected = percentile(values[codes == g], p, lost=lost)
                assert (math.isnan(got[g]) and math.isnan(expected)) or got[g] == expected
        medians = sg.median_rfc7679(lost=lost)
        for g in range(6):
            expected = median_rfc7679(values[codes == g], lost=lost)
            assert (math.isnan(medians[g]) and math.isnan(expected)) or medians[g] == pytest.approx(
                expected
            )


def test_v23_upper_bound_of_p999_needs_2995_samples() -> None:
    assert min_samples_for_upper_bound("99.9%", 0.95) == 2995
    assert int(upper_bound_rank(2995, "99.9%", 0.95)) == 2995  # the sample maximum
    assert int(upper_bound_rank(2994, "99.9%", 0.95)) == 2995  # > n: no bound
    _lo, hi = quantile_bounds(np.arange(2994, dtype=float), "99.9%")
    assert hi == math.inf
    _lo, hi = quantile_bounds(np.arange(2995, dtype=float), "99.9%")
    assert hi == 2994.0


def test_bound_ranks_match_the_binomial_definition() -> None:
    from scipy.stats import binom

    for n in (10, 50, 137, 1000):
        for p in ("50%", "90%", "95%"):
            q = float(as_fraction(p))
            u = int(upper_bound_rank(n, p, 0.95))
            if u <= n:
                assert binom.cdf(u - 1, n, q) >= 0.95
                assert binom.cdf(u - 2, n, q) < 0.95
            lo = int(lower_bound_rank(n, p, 0.95))
            if lo >= 1:
                assert 1 - binom.cdf(lo - 1, n, q) >= 0.95
                assert 1 - binom.cdf(lo, n, q) < 0.95


def test_bounds_cover_the_true_quantile() -> None:
    # Coverage check on a known distribution: Exp(1) median = ln 2.
    rng = np.random.default_rng(7)
    truth = math.log(2)
    misses_upper = misses_lower = 0
    trials = 400
    for _ in range(trials):
        lo, hi = quantile_bounds(rng.exponential(1.0, 101), "50%", 0.95)
        misses_upper += hi < truth
        misses_lower += lo > truth
    # Each one-sided bound fails with probability ≤ 5 %; allow sampling noise (binomial sd ≈ 4.4).
    assert misses_upper <= 0.05 * trials + 3 * 4.4
    assert misses_lower <= 0.05 * trials + 3 * 4.4


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(0, 1, allow_nan=False), min_size=1, max_size=400),
    st.sampled_from(["50%", "90%", "95%", "99%"]),
)
def test_bounds_bracket_the_estimate_and_percentiles_are_monotone(
    values: list[float], p: str
) -> None:
    arr = np.array(values)
    lo, hi = quantile_bounds(arr, p, 0.95)
    est = percentile(arr, p)
    assert lo <= est <= hi
    qs = [percentile(arr, q) for q in ("1%", "25%", "50%", "75%", "99%", "100%")]
    assert qs == sorted(qs)


def test_median_counts_a_lost_packet_as_infinite_unless_asked() -> None:
    stream2 = np.array([100, 110, NAN, 90]) / 1000
    # RFC 7679 §5.2: {90, 100, 110, +∞} → (100 + 110)/2, as the core's stdlib median.
    assert median_rfc7679(stream2) == pytest.approx(0.105)
    core = metrics.median([None if math.isnan(v) else v for v in stream2])
    assert core is not None and median_rfc7679(stream2) == pytest.approx(core)
    assert median_rfc7679(stream2, lost="exclude") == pytest.approx(0.100)
    assert median_rfc7679(np.array([NAN, NAN, 0.1])) == math.inf
    with pytest.raises(ValueError, match="lost"):
        median_rfc7679(stream2, lost="drop")


def test_grouped_median_refuses_a_convention_its_groups_were_not_sorted_with() -> None:
    codes = np.array([0, 0, 0, 0, 1, 1])
    values = np.array([0.100, 0.110, NAN, 0.090, 0.2, NAN])
    excluded = sort_groups(codes, values, 2, lost="exclude")
    with pytest.raises(ValueError, match="sorted with lost='exclude'"):
        excluded.median_rfc7679()
    assert excluded.median_rfc7679(lost="exclude").tolist() == pytest.approx([0.100, 0.2])
    infinite = sort_groups(codes, values, 2, lost="infinite")
    assert infinite.median_rfc7679().tolist() == [pytest.approx(0.105), math.inf]
