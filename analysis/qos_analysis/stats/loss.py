"""Loss ratio, loss patterns, burst/gap metrics and Gilbert–Elliott estimation.

* Loss ratio = lost / sent (docs/methods.md §6.5; RFC 7680 §4.1, RFC 6673; vector V12).
* RFC 3357 loss distance, loss periods, Noticeable-Rate, period lengths (docs/methods.md §6.7).
* RFC 3611 §4.7 burst/gap metrics with Gmin = 16 (docs/methods.md §6.8; vector V13).
* Gilbert / Gilbert–Elliott two-state estimation giving the G.107 BurstR
  (docs/methods.md §6.9, §4.5): p̂ = #(0→1)/#(0·), r̂ = #(1→0)/#(1·), BurstR = 1/(p̂ + r̂).

A loss trace is a boolean array in sequence order, True = lost.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

GMIN_DEFAULT = 16  # RFC 3611 §4.7.2 recommended minimum gap length


def loss_ratio(lost: np.ndarray) -> float:
    """Lost / sent; NaN (undefined) for an empty sample (RFC 7680 §4.1)."""
    trace = np.asarray(lost, dtype=bool)
    return float(trace.mean()) if trace.size else math.nan


@dataclass(frozen=True)
class LossPatterns:
    """RFC 3357 §5–6 statistics of one loss trace."""

    loss_distances: tuple[int, ...]  # per lost packet; 0 for the first loss
    loss_periods: tuple[int, ...]  # period number n of each lost packet (1-based)
    noticeable_rate: float  # losses with distance ≤ δ (first loss excluded) / all losses
    loss_period_total: int
    loss_period_lengths: tuple[tuple[int, int], ...]  # ⟨n, packets lost in period n⟩
    inter_loss_period_lengths: tuple[tuple[int, int], ...]  # ⟨n, distance of its 1st loss⟩


def loss_patterns(lost: np.ndarray, delta: int, seq: np.ndarray | None = None) -> LossPatterns:
    """RFC 3357 loss distance / loss period metrics (docs/methods.md §6.7).

    ``seq`` gives the sequence numbers (default 0…N−1).  Noticeable-Rate is NaN with no
    losses.
    """
    trace = np.asarray(lost, dtype=bool)
    numbers = np.arange(trace.size) if seq is None else np.asarray(seq, dtype=np.int64)
    lost_seq = numbers[trace]
    if lost_seq.size == 0:
        return LossPatterns((), (), math.nan, 0, (), ())
    distances = np.zeros(lost_seq.size, dtype=np.int64)
    distances[1:] = np.diff(lost_seq)
    # A loss starts a new period unless the packet just before it (by sequence) was lost.
    new_period = np.ones(lost_seq.size, dtype=bool)
    new_period[1:] = distances[1:] != 1
    periods = np.cumsum(new_period)
    noticeable = np.count_nonzero(distances[1:] <= delta) / lost_seq.size
    counts = np.bincount(periods)[1:]
    first_of_period = np.flatnonzero(new_period)
    return LossPatterns(
        loss_distances=tuple(int(d) for d in distances),
        loss_periods=tuple(int(p) for p in periods),
        noticeable_rate=float(noticeable),
        loss_period_total=int(periods[-1]),
        loss_period_lengths=tuple((i + 1, int(c)) for i, c in enumerate(counts)),
        inter_loss_period_lengths=tuple(
            (i + 1, int(distances[j])) for i, j in enumerate(first_of_period)
        ),
    )


@dataclass(frozen=True)
class BurstGap:
    """RFC 3611 §4.7 burst/gap statistics (densities as fractions and 8-bit fields)."""

    burst_packets: int
    burst_lost: int
    gap_packets: int
    gap_lost: int
    burst_density: float
    gap_density: float
    burst_duration_s: float | None
    gap_duration_s: float | None
    bursts: tuple[tuple[int, int], ...]  # (first index, last index) per burst

    @staticmethod
    def field(fraction: float) -> int:
        """8-bit fixed point: floor(256·fraction), capped at 255 (RFC 3611 §4.7)."""
        if math.isnan(fraction):
            return 0
        return min(255, math.floor(256 * fraction))

    @property
    def burst_density_field(self) -> int:
        return self.field(self.burst_density)

    @property
    def gap_density_field(self) -> int:
        return self.field(self.gap_density)


def burst_gap(
    lost: np.ndarray, gmin: int = GMIN_DEFAULT, spacing_s: float | None = None
) -> BurstGap:
    """Split a trace into bursts and gaps (RFC 3611 §4.7.2, docs/methods.md §6.8).

    A burst starts and ends with a lost (or discarded) packet and contains no run of
    ≥ ``gmin`` consecutive received packets; an isolated loss with ≥ gmin received packets
    on either side stays in the gap (so a gap's loss rate is at most 1/(gmin + 1)).
    Durations are packets × ``spacing_s`` and refer to mean burst/gap length, as RTCP XR
    reports them.
    """
    trace = np.asarray(lost, dtype=bool)
    total = trace.size
    losses = np.flatnonzero(trace)
    bursts: list[tuple[int, int]] = []
    if losses.size:
        received_between = np.diff(losses) - 1
        breaks = np.flatnonzero(received_between >= gmin)
        group_starts = np.concatenate(([0], breaks + 1))
        group_ends = np.concatenate((breaks, [losses.size - 1]))
        for first, last in zip(group_starts.tolist(), group_ends.tolist(), strict=True):
            if last > first:  # ≥ 2 losses close together form a burst
                bursts.append((int(losses[first]), int(losses[last])))
    burst_packets = sum(b - a + 1 for a, b in bursts)
    burst_lost = sum(int(trace[a : b + 1].sum()) for a, b in bursts)
    gap_packets = total - burst_packets
    gap_lost = int(losses.size) - burst_lost
    n_gaps = _count_gaps(total, bursts)
    return BurstGap(
        burst_packets=burst_packets,
        burst_lost=burst_lost,
        gap_packets=gap_packets,
        gap_lost=gap_lost,
        burst_density=burst_lost / burst_packets if burst_packets else 0.0,
        gap_density=gap_lost / gap_packets if gap_packets else 0.0,
        burst_duration_s=(
            burst_packets / len(bursts) * spacing_s if bursts and spacing_s is not None else None
        ),
        gap_duration_s=(
            gap_packets / n_gaps * spacing_s if n_gaps and spacing_s is not None else None
        ),
        bursts=tuple(bursts),
    )


def _count_gaps(total: int, bursts: list[tuple[int, int]]) -> int:
    gaps = 0
    cursor = 0
    for a, b in bursts:
        if a > cursor:
            gaps += 1
        cursor = b + 1
    if cursor < total:
        gaps += 1
    return gaps


@dataclass(frozen=True)
class GilbertEstimate:
    """Two-state Markov loss model fitted to a trace (docs/methods.md §6.9)."""

    p: float  # P(good → bad) = P(received → lost)
    r: float  # P(bad → good) = P(lost → received)
    loss_ratio: float
    burst_ratio: float  # G.107 BurstR = 1/(p + r); NaN when undefined
    mean_burst_length: float
    mean_gap_length: float


def gilbert_estimate(lost: np.ndarray) -> GilbertEstimate:
    """Estimate p, r and BurstR from a 0/1 trace (simple Gilbert: loss iff in Bad).

    BurstR = 1 for independent loss, > 1 for bursty loss (G.107 §7-29, docs/methods.md §4.5).
    With no loss (or only loss) one transition is unobserved and BurstR is NaN: with
    Ppl = 0 the E-model does not use it; callers must not silently substitute 1.
    """
    trace = np.asarray(lost, dtype=bool)
    if trace.size < 2:
        ratio = float(trace.mean()) if trace.size else math.nan
        return GilbertEstimate(math.nan, math.nan, ratio, math.nan, math.nan, math.nan)
    prev, nxt = trace[:-1], trace[1:]
    from_good = np.count_nonzero(~prev)
    from_bad = np.count_nonzero(prev)
    p = np.count_nonzero(~prev & nxt) / from_good if from_good else math.nan
    r = np.count_nonzero(prev & ~nxt) / from_bad if from_bad else math.nan
    total = p + r
    burst_ratio = 1.0 / total if total > 0 and not math.isnan(total) else math.nan
    return GilbertEstimate(
        p=float(p),
        r=float(r),
        loss_ratio=float(trace.mean()),
        burst_ratio=burst_ratio,
        mean_burst_length=1.0 / r if r and not math.isnan(r) else math.nan,
        mean_gap_length=1.0 / p if p and not math.isnan(p) else math.nan,
    )


def gilbert_elliott_loss_probability(p: float, r: float, k: float, h: float) -> float:
    """P(loss) = (1 − k)·r/(p + r) + (1 − h)·p/(p + r) (docs/methods.md §6.9)."""
    return (1 - k) * r / (p + r) + (1 - h) * p / (p + r)
