"""Ground-truth statistics for the lab: confidence intervals and uniform-jitter theory.

Standard library only (the lab drives agent code, which may not import scipy).

* :func:`clopper_pearson` — exact binomial interval, docs/methods.md §9.1, via a bisected
  regularised incomplete beta function (continued fraction, Numerical Recipes §6.4).
* :func:`expected_abs_diff_rtt` — the value the RFC 3550 jitter estimator and the mean
  |IPDV| converge to when each direction adds an independent uniform delay.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10_000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta I_x(a, b) for a, b > 0, 0 <= x <= 1."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    front = math.exp(log_front)
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def beta_ppf(q: float, a: float, b: float) -> float:
    """Inverse of :func:`betainc` in x by bisection (monotone; 200 halvings ≈ exact)."""
    lo, hi = 0.0, 1.0
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if betainc(a, b, mid) < q:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2.0


def clopper_pearson(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper–Pearson) interval for a binomial proportion, docs/methods.md §9.1.

    lower = Beta⁻¹(α/2; k, n−k+1) (0 if k = 0); upper = Beta⁻¹(1−α/2; k+1, n−k) (1 if k = n).
    Vector (§9.1): k = 7, n = 50 → (0.058191700, 0.267396002).
    """
    if n <= 0 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n and n > 0, got k={k}, n={n}")
    alpha = 1.0 - confidence
    lower = 0.0 if k == 0 else beta_ppf(alpha / 2.0, k, n - k + 1)
    upper = 1.0 if k == n else beta_ppf(1.0 - alpha / 2.0, k + 1, n - k)
    return lower, upper


def _uniform_sum_density(
    half_widths: tuple[float, ...], steps: int
) -> tuple[list[float], list[float], float]:
    """Grid, density and cell width of Σ Uᵢ, Uᵢ ~ U(−wᵢ, +wᵢ) independent (all wᵢ > 0)."""
    span = sum(half_widths)
    dx = 2.0 * span / steps
    grid = [-span + (i + 0.5) * dx for i in range(steps)]
    dens = [1.0 / (2 * half_widths[0]) if abs(x) <= half_widths[0] else 0.0 for x in grid]
    for w in half_widths[1:]:
        k = max(1, round(w / dx))
        # convolving with U(-w, w) = moving average over ±w, via prefix sums
        prefix = [0.0]
        for v in dens:
            prefix.append(prefix[-1] + v)
        dens = [
            (prefix[min(steps, i + k + 1)] - prefix[max(0, i - k)]) / (2 * k + 1)
            for i in range(steps)
        ]
    total = sum(dens) * dx
    return grid, [v / total for v in dens], dx


def expected_abs_sum_uniform(half_widths: tuple[float, ...], steps: int = 20000) -> float:
    """E|Σ Uᵢ| for independent Uᵢ ~ U(−wᵢ, +wᵢ), by numeric convolution of the densities.

    Exact closed forms used by the tests: one term → w/2; two equal terms → 2w/3;
    four equal terms → 14w/15 (Irwin–Hall, n = 4).
    """
    widths = tuple(w for w in half_widths if w > 0)
    if not widths:
        return 0.0
    grid, dens, dx = _uniform_sum_density(widths, steps)
    return sum(abs(x) * v for x, v in zip(grid, dens, strict=True)) * dx


def uniform_sum_quantile(half_widths: tuple[float, ...], q: float, steps: int = 20000) -> float:
    """q-quantile of Σ Uᵢ (Uᵢ ~ U(−wᵢ, +wᵢ) independent): the set value of RTT percentiles.

    Two equal terms (a round trip with ±J each way) give a triangle on [−2J, 2J]:
    the 95th percentile is 2J·(1 − √0.1) ≈ 1.368·J.
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError("q must be in [0, 1]")
    widths = tuple(w for w in half_widths if w > 0)
    if not widths:
        return 0.0
    grid, dens, dx = _uniform_sum_density(widths, steps)
    acc = 0.0
    for x, v in zip(grid, dens, strict=True):
        if acc + v * dx >= q:
            # linear interpolation inside the cell
            return x - dx / 2 + dx * (q - acc) / (v * dx)
        acc += v * dx
    return sum(widths)


def expected_abs_diff_rtt(jitter_forward_s: float, jitter_backward_s: float) -> float:
    """E|RTTᵢ − RTTᵢ₋₁| when each direction adds an independent U(−J, +J) delay.

    RTTᵢ = c + Fᵢ + Bᵢ with Fᵢ ~ U(−J_f, J_f) and Bᵢ ~ U(−J_b, J_b), all independent (the
    lab sends at intervals ≥ 2·(J_f + J_b) so the bridge's FIFO clamp never binds).  Then

        Dᵢ = RTTᵢ − RTTᵢ₋₁ = (Fᵢ − Fᵢ₋₁) + (Bᵢ − Bᵢ₋₁),

    a sum of four independent uniforms (the sign of a symmetric uniform does not matter),
    so E|D| = E|U₁ + U₂ + U₃ + U₄| with half-widths (J_f, J_f, J_b, J_b).  For J_f = J_b = J
    this is the Irwin–Hall(4) mean absolute deviation: **E|D| = 14/15 · J ≈ 0.9333 J**.

    This is the expected value of the RFC 3393 mean |IPDV| of consecutive packets, and the
    steady-state mean of the RFC 3550 estimator J(i) = J(i−1) + (|D(i)| − J(i−1))/16,
    because the filter is linear with unit DC gain (RFC 3550 §6.4.1; docs/methods.md §6.1–6.2).
    One-way (a single direction): E|D| = 2J/3 (triangular difference of two uniforms).
    """
    return expected_abs_sum_uniform(
        (jitter_forward_s, jitter_forward_s, jitter_backward_s, jitter_backward_s)
    )


def expected_abs_diff_one_way(jitter_s: float) -> float:
    """E|Dᵢ − Dᵢ₋₁| for one direction with U(−J, +J) delay: 2J/3 (see above)."""
    return 2.0 * jitter_s / 3.0


def rfc3550_running(transits_s: Sequence[float]) -> list[float]:
    """J(i) after every packet (RFC 3550 §6.4.1 filter, gain 1/16; docs/methods.md §6.1).

    The run average of J(i) after a warm-up estimates E|D| with a sampling error that
    shrinks with the packet count, unlike the final J alone (an EWMA over ≈16 packets).
    """
    out: list[float] = []
    jitter = 0.0
    for prev, cur in itertools.pairwise(transits_s):
        jitter += (abs(cur - prev) - jitter) / 16.0
        out.append(jitter)
    return out


def realised_round_trips(
    forward_s: Sequence[float | None],
    backward_s: Sequence[float | None],
    count: int,
    *,
    skip: int = 0,
) -> list[float | None]:
    """Per-probe round-trip delay the TUN bridge applied (``Lab.bridge_log`` ground truth).

    For a request/response flow alone on the link, the i-th packet of each direction
    belongs to probe i (the bridge is FIFO); ``skip`` leading exchanges (irtt: 1, its
    open handshake) and entries beyond ``count`` (irtt's close) are ignored.  A probe
    dropped in either direction is ``None``.
    Raises ``ValueError`` if either direction saw fewer than ``count`` packets, i.e. the
    pairing assumption does not hold.
    """
    forward_s, backward_s = forward_s[skip:], backward_s[skip:]
    if len(forward_s) < count:
        raise ValueError(f"bridge saw {len(forward_s)} forward packets, expected ≥ {count}")
    out: list[float | None] = []
    b_iter = iter(backward_s)
    for f in forward_s[:count]:
        if f is None:
            out.append(None)  # dropped forward: no reply crossed the backward direction
            continue
        try:
            b = next(b_iter)
        except StopIteration:
            raise ValueError("bridge saw fewer backward packets than forwarded probes") from None
        out.append(None if b is None else f + b)
    return out
