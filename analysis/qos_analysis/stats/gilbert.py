"""Simple Gilbert loss model from its transition probabilities (p, r).

Two states, Good (packet received) and Bad (packet lost); p = P(Good → Bad) and
r = P(Bad → Good) per packet (Gilbert 1960, Bell Syst. Tech. J. 39:1253–1265, with loss iff
Bad as in the "simple Gilbert" model).  From the stationary distribution of the chain:

* loss ratio π_B = p / (p + r);
* mean burst (loss run) length 1/r and mean gap (received run) length 1/p, since run
  lengths are geometric;
* ITU-T G.107 (06/2015) BurstR = 1/(p + r): the burst ratio that enters the effective
  equipment impairment Ie,eff (eq. 7-29), defined there as the mean observed burst length
  over the mean burst length under random loss, 1/(1 − π_B), which for this chain is
  (1/r)·(1 − π_B) = 1/(p + r) = π_B/p = (1 − π_B)/r.  BurstR = 1 for independent loss
  (p + r = 1), > 1 for bursty loss.

Estimation of (p, r) from a measured trace is :func:`qos_analysis.stats.loss.gilbert_estimate`;
:func:`gilbert_model_from_trace` wraps it into a :class:`GilbertModel`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from qos_analysis.stats.loss import gilbert_estimate


def gilbert_loss_ratio(p: float, r: float) -> float:
    """Stationary loss probability p/(p + r) of the simple Gilbert chain."""
    _check(p, r)
    return p / (p + r)


def gilbert_mean_burst_length(r: float) -> float:
    """Mean number of consecutive losses, 1/r (+∞ when r = 0: the Bad state absorbs)."""
    if not 0 <= r <= 1:
        raise ValueError(f"r must lie in [0, 1], got {r!r}")
    return math.inf if r == 0 else 1.0 / r


def gilbert_burst_ratio(p: float, r: float) -> float:
    """ITU-T G.107 BurstR = 1/(p + r) (1 = random loss, > 1 = bursty)."""
    _check(p, r)
    return 1.0 / (p + r)


@dataclass(frozen=True)
class GilbertModel:
    """A simple Gilbert chain and the figures it implies (see the module text)."""

    p: float  # P(Good → Bad) = P(received → lost)
    r: float  # P(Bad → Good) = P(lost → received)

    def __post_init__(self) -> None:
        _check(self.p, self.r)

    @property
    def loss_ratio(self) -> float:
        return gilbert_loss_ratio(self.p, self.r)

    @property
    def mean_burst_length(self) -> float:
        return gilbert_mean_burst_length(self.r)

    @property
    def mean_gap_length(self) -> float:
        return math.inf if self.p == 0 else 1.0 / self.p

    @property
    def burst_ratio(self) -> float:
        return gilbert_burst_ratio(self.p, self.r)

    @classmethod
    def from_loss_and_burst_ratio(cls, loss_ratio: float, burst_ratio: float) -> GilbertModel:
        """The chain with loss π and BurstR B: p = π/B, r = (1 − π)/B (G.107 eq. 7-29 text).

        Needs 0 < π < 1 and B ≥ 1 with p, r ≤ 1 (B ≥ max(π, 1 − π) is always met for B ≥ 1).
        """
        if not 0 < loss_ratio < 1:
            raise ValueError(f"loss ratio must lie strictly between 0 and 1, got {loss_ratio!r}")
        if not burst_ratio >= 1 or not math.isfinite(burst_ratio):
            raise ValueError(f"BurstR must be a finite number ≥ 1, got {burst_ratio!r}")
        return cls(loss_ratio / burst_ratio, (1 - loss_ratio) / burst_ratio)


def gilbert_model_from_trace(lost: np.ndarray) -> GilbertModel:
    """Fit (p̂, r̂) to a loss trace (True = lost) with the transition-count estimator.

    Raises ``ValueError`` when one transition is never observed (no loss, or only loss, or
    fewer than two packets): the chain is then not identifiable from the trace.
    """
    est = gilbert_estimate(lost)
    if math.isnan(est.p) or math.isnan(est.r) or est.p + est.r == 0:
        raise ValueError(
            "the trace does not identify a Gilbert model (no loss, only loss, or n < 2)"
        )
    return GilbertModel(est.p, est.r)


def _check(p: float, r: float) -> None:
    if not (0 <= p <= 1 and 0 <= r <= 1):
        raise ValueError(f"p and r must lie in [0, 1], got p = {p!r}, r = {r!r}")
    if p + r == 0:
        raise ValueError("p + r = 0: the chain never changes state; loss ratio is undefined")
