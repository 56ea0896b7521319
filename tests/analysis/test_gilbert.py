"""Gilbert model figures from (p, r), and estimation from long synthetic Gilbert traces."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qos_analysis.stats import (
    GilbertModel,
    gilbert_burst_ratio,
    gilbert_estimate,
    gilbert_loss_ratio,
    gilbert_mean_burst_length,
    gilbert_model_from_trace,
)


def chain(rng: np.random.Generator, n: int, p: float, r: float) -> np.ndarray:
    """Loss trace of a two-state chain: runs of received packets ~ Geom(p), of losses ~ Geom(r).

    Built from the transition probabilities only (no stationary formula), starting Good.
    """
    parts: list[np.ndarray] = []
    total = 0
    while total < n:
        cycles = max(16, int(n / (1 / p + 1 / r)))
        good = rng.geometric(p, cycles)
        bad = rng.geometric(r, cycles)
        lengths = np.column_stack([good, bad]).ravel()
        states = np.tile([False, True], cycles)
        parts.append(np.repeat(states, lengths))
        total += int(lengths.sum())
    return np.concatenate(parts)[:n]


def run_lengths(trace: np.ndarray) -> np.ndarray:
    """Lengths of the runs of consecutive losses."""
    padded = np.concatenate([[False], trace, [False]]).astype(np.int8)
    edges = np.diff(padded)
    return np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)


def test_closed_forms() -> None:
    assert gilbert_loss_ratio(0.1, 0.4) == pytest.approx(0.2)
    assert gilbert_mean_burst_length(0.4) == pytest.approx(2.5)
    assert gilbert_burst_ratio(0.1, 0.4) == pytest.approx(2.0)
    # Independent loss: p + r = 1 gives BurstR = 1 and loss = p.
    m = GilbertModel(0.03, 0.97)
    assert m.burst_ratio == pytest.approx(1.0) and m.loss_ratio == pytest.approx(0.03)
    assert m.mean_gap_length == pytest.approx(1 / 0.03)
    # G.107's equivalent forms: BurstR = π/p = (1 − π)/r.
    m = GilbertModel(0.02, 0.3)
    assert m.burst_ratio == pytest.approx(m.loss_ratio / m.p)
    assert m.burst_ratio == pytest.approx((1 - m.loss_ratio) / m.r)
    back = GilbertModel.from_loss_and_burst_ratio(m.loss_ratio, m.burst_ratio)
    assert (back.p, back.r) == (pytest.approx(0.02), pytest.approx(0.3))
    assert gilbert_mean_burst_length(0.0) == math.inf


def test_bad_parameters_are_refused() -> None:
    for p, r in ((0.0, 0.0), (-0.1, 0.5), (0.5, 1.2), (math.nan, 0.5)):
        with pytest.raises(ValueError):
            GilbertModel(p, r)
    with pytest.raises(ValueError):
        GilbertModel.from_loss_and_burst_ratio(0.0, 2.0)
    with pytest.raises(ValueError):
        GilbertModel.from_loss_and_burst_ratio(0.1, 0.5)
    for trace in (np.zeros(1000, bool), np.ones(1000, bool), np.array([True])):
        with pytest.raises(ValueError, match="identify"):
            gilbert_model_from_trace(trace)


@pytest.mark.parametrize(
    ("p", "r"), [(0.01, 0.5), (0.02, 0.25), (0.1, 0.9), (0.005, 0.1), (0.05, 0.6)]
)
def test_estimation_recovers_p_r_and_the_helpers_agree(p: float, r: float) -> None:
    rng = np.random.default_rng(int(p * 1e4 + r * 1e2))
    trace = chain(rng, 1_000_000, p, r)
    fitted = gilbert_model_from_trace(trace)
    # Relative standard errors are ≤ 1.5 % at 10⁶ packets for these (p, r); 6 % is 4 s.e.
    assert fitted.p == pytest.approx(p, rel=0.06)
    assert fitted.r == pytest.approx(r, rel=0.06)
    truth = GilbertModel(p, r)
    assert trace.mean() == pytest.approx(truth.loss_ratio, rel=0.06)
    assert fitted.burst_ratio == pytest.approx(truth.burst_ratio, rel=0.06)
    # The helpers applied to the fit agree with what the trace shows directly.
    est = gilbert_estimate(trace)
    assert fitted.burst_ratio == pytest.approx(est.burst_ratio, rel=1e-12)
    assert fitted.loss_ratio == pytest.approx(trace.mean(), rel=2e-3)
    runs = run_lengths(trace)
    assert fitted.mean_burst_length == pytest.approx(runs.mean(), rel=2e-3)
    # G.107's definition: mean observed burst over the random-loss mean 1/(1 − π).
    assert fitted.burst_ratio == pytest.approx(runs.mean() * (1 - trace.mean()), rel=2e-3)
