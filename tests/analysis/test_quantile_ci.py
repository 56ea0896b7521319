"""Two-sided order-statistic intervals for a quantile, checked by brute-force enumeration.

The oracle enumerates every rank pair 1 ≤ l < u ≤ n and sums ``scipy.stats.binom.pmf``
over l … u − 1 (the coverage P(X(l) ≤ ξ_p ≤ X(u)) for continuous data), then applies each
rule's definition literally.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from scipy import stats as sps

from qos_analysis.stats import (
    QuantileInterval,
    min_n_two_sided,
    order_statistic_coverage,
    quantile_ci,
    quantile_ci_ranks,
)
from qos_analysis.stats.quantiles import lower_bound_rank, upper_bound_rank

PS = (0.05, 0.1, 0.25, 0.5, 0.8, 0.9, 0.95, 0.99)
CONFIDENCES = (0.9, 0.95, 0.99)
SIZES = (*range(2, 31), 45, 70, 100)


def brute_force(n: int, p: float, confidence: float, rule: str) -> tuple[int, int, float] | None:
    pmf = sps.binom.pmf(np.arange(n + 1), n, p)
    alpha = 1 - confidence
    if rule == "equal-tailed":
        lows = [lo for lo in range(1, n + 1) if pmf[:lo].sum() <= alpha / 2]  # P(B ≤ l − 1)
        highs = [u for u in range(1, n + 1) if pmf[u:].sum() <= alpha / 2]  # P(B ≥ u)
        if not lows or not highs:
            return None
        lo, hi = max(lows), min(highs)
        return lo, hi, float(pmf[lo:hi].sum())
    pairs = [
        (u - lo, float(pmf[lo:u].sum()), lo, u)
        for lo in range(1, n)
        for u in range(lo + 1, n + 1)
        if pmf[lo:u].sum() >= confidence
    ]
    if not pairs:
        return None
    span = min(s for s, *_ in pairs)
    shortest = [x for x in pairs if x[0] == span]
    least = min(c for _, c, _, _ in shortest)
    nearest = [x for x in shortest if x[1] <= least + 1e-12]
    centre = (n + 1) * p
    _, cover, lo, hi = min(nearest, key=lambda x: (abs((x[2] + x[3]) / 2 - centre), x[2]))
    return lo, hi, cover


@pytest.mark.parametrize("rule", ["equal-tailed", "shortest"])
def test_ranks_and_coverage_match_brute_force(rule: str) -> None:
    checked = 0
    for n in SIZES:
        for p in PS:
            for confidence in CONFIDENCES:
                got = quantile_ci_ranks(n, p, confidence, rule=rule)
                want = brute_force(n, p, confidence, rule)
                assert got.rule == rule and got.n == n and got.p == Fraction(str(p))
                if want is None:
                    assert not got.available and got.reason, (n, p, confidence)
                    assert got.lower_rank is None and math.isnan(got.coverage)
                    continue
                assert got.available, (n, p, confidence, got.reason)
                assert (got.lower_rank, got.upper_rank) == want[:2], (n, p, confidence)
                assert got.coverage == pytest.approx(want[2], abs=1e-12)
                assert got.coverage >= confidence
                checked += 1
    assert checked > 200  # the grid exercises real intervals, not only "too small"


def test_shortest_is_never_wider_and_names_its_rule() -> None:
    for n in (20, 100, 1000):
        for p in PS:
            eq = quantile_ci_ranks(n, p, 0.95, rule="equal-tailed")
            sh = quantile_ci_ranks(n, p, 0.95, rule="shortest")
            assert sh.available == (n >= min_n_two_sided(p, 0.95)) and sh.rule == "shortest"
            if not sh.available:
                assert not eq.available
                continue
            if eq.available:
                assert sh.upper_rank - sh.lower_rank <= eq.upper_rank - eq.lower_rank
    # A textbook value: the 95 % interval for the median of 100 values is [X(40), X(61)].
    eq = quantile_ci_ranks(100, "50%", 0.95)
    assert (eq.rule, eq.lower_rank, eq.upper_rank) == ("equal-tailed", 40, 61)
    assert eq.coverage == pytest.approx(order_statistic_coverage(100, "50%", 40, 61))


def test_equal_tailed_is_the_pair_of_one_sided_bounds_at_half_alpha() -> None:
    for n in (10, 57, 400, 3000):
        for p in ("10%", "50%", "95%", "99%"):
            got = quantile_ci_ranks(n, p, 0.95, rule="equal-tailed")
            lo = int(lower_bound_rank(n, p, 0.975))
            hi = int(upper_bound_rank(n, p, 0.975))
            if lo >= 1 and hi <= n:
                assert (got.lower_rank, got.upper_rank) == (lo, hi)
            else:
                assert not got.available


def test_sample_too_small_says_so() -> None:
    assert min_n_two_sided("50%", 0.95) == 6  # 2 · 0.5⁶ = 0.031 ≤ 0.05 < 2 · 0.5⁵
    for rule in ("equal-tailed", "shortest"):
        small = quantile_ci_ranks(5, "50%", 0.95, rule=rule)
        assert not small.available
        assert "too small" in small.reason and "n ≥ 6" in small.reason
        for n in (0, 1):
            assert not quantile_ci_ranks(n, "50%", rule=rule).available
        assert quantile_ci_ranks(6, "50%", 0.95, rule=rule).available


@pytest.mark.parametrize(("p", "end"), [("99.9%", "upper"), ("0.1%", "lower")])
def test_extreme_quantiles(p: str, end: str) -> None:
    # 1 − 0.999ⁿ − 0.001ⁿ ≥ 0.95 needs n ≥ 2995, as for the one-sided sample-maximum bound.
    assert min_n_two_sided(p, 0.95) == 2995
    assert not quantile_ci_ranks(2994, p, 0.95, rule="shortest").available
    sh = quantile_ci_ranks(2995, p, 0.95, rule="shortest")
    assert sh.available and sh.coverage >= 0.95
    assert (sh.upper_rank == 2995) if end == "upper" else (sh.lower_rank == 1)
    # Equal tails of 2.5 % each need more data than the shortest interval does.
    eq = quantile_ci_ranks(3000, p, 0.95, rule="equal-tailed")
    assert not eq.available and "shortest" in eq.reason
    # The extreme rank alone must miss with probability ≤ 2.5 %: 0.999ⁿ ≤ 0.025.
    need = math.ceil(math.log(0.025) / math.log(0.999))
    assert not quantile_ci_ranks(need - 1, p, 0.95, rule="equal-tailed").available
    eq = quantile_ci_ranks(need, p, 0.95, rule="equal-tailed")
    assert eq.available and (eq.upper_rank == need if end == "upper" else eq.lower_rank == 1)


def test_bad_arguments_are_refused() -> None:
    for p in (0, 1, "0%", "100%", 1.5):
        with pytest.raises(ValueError):
            quantile_ci_ranks(100, p)
    with pytest.raises(ValueError, match="rule"):
        quantile_ci_ranks(100, "50%", rule="narrowest")
    with pytest.raises(ValueError, match="confidence"):
        quantile_ci_ranks(100, "50%", 1.0)
    with pytest.raises(ValueError):
        quantile_ci_ranks(-1, "50%")
    with pytest.raises(ValueError, match="lost"):
        quantile_ci(np.arange(10.0), "50%", lost="ignore")
    with pytest.raises(ValueError):
        order_statistic_coverage(10, "50%", 5, 5)


def test_sample_values_and_lost_packets() -> None:
    rng = np.random.default_rng(5)
    values = rng.exponential(0.02, 200)
    ci = quantile_ci(values, "90%", 0.95, rule="shortest")
    assert isinstance(ci, QuantileInterval)
    ordered = np.sort(values)
    assert ci.lower == ordered[ci.lower_rank - 1] and ci.upper == ordered[ci.upper_rank - 1]
    # 30 lost packets: as +∞ (RFC 7679 §4) they occupy the top ranks and end the interval.
    with_loss = np.concatenate([values, np.full(30, np.nan)])
    inf = quantile_ci(with_loss, "95%", 0.95)
    assert inf.n == 230 and inf.upper == math.inf
    excl = quantile_ci(with_loss, "95%", 0.95, lost="exclude")
    assert excl.n == 200 and math.isfinite(excl.upper)
    tiny = quantile_ci(values[:3], "50%")
    assert not tiny.available and math.isnan(tiny.lower) and math.isnan(tiny.upper)


def test_achieved_coverage_holds_on_simulated_samples() -> None:
    """The stated coverage is the real one: 4000 exponential samples of 50 values each."""
    rng = np.random.default_rng(2026)
    n, p, reps = 50, 0.9, 4000
    xi = -math.log(1 - p)  # 0.9-quantile of Exp(1)
    samples = np.sort(rng.exponential(1.0, (reps, n)), axis=1)
    for rule in ("equal-tailed", "shortest"):
        ci = quantile_ci_ranks(n, p, 0.9, rule=rule)
        inside = (samples[:, ci.lower_rank - 1] <= xi) & (xi <= samples[:, ci.upper_rank - 1])
        sd = math.sqrt(ci.coverage * (1 - ci.coverage) / reps)
        assert abs(inside.mean() - ci.coverage) < 4 * sd, (rule, inside.mean(), ci.coverage)
