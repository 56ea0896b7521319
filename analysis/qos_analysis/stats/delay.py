"""Delay-variation metrics, each named for its definition (nothing is just "jitter").

* IPDV pseudo-range, Y.1540/Y.1541: (1 − 10⁻³) quantile of IPTD − minimum IPTD
  (docs/methods.md §1.1, §1.3; RFC 5481 §6.5, RFC 6703 §3.1; vector V17).
* PDV(i) = D(i) − D(min) and IPDV(i) = D(i) − D(i−1) (docs/methods.md §6.3; RFC 5481 §4.1–4.2;
  vector V8).
* RFC 3550 interarrival jitter J += (|D| − J)/16 in arrival order, float and the integer
  reference variant (docs/methods.md §6.1; RFC 3550 §6.4.1, §A.8; vector V6), and the RTCP
  round-trip time A − LSR − DLSR (vector V7).

Input delays are numpy arrays in seconds with NaN for a lost packet.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
from scipy.signal import lfilter

from qos_analysis.stats.quantiles import percentile

Y1541_IPDV_QUANTILE = Fraction(999, 1000)


def ipdv_pseudo_range(
    delays: np.ndarray, quantile: float | str | Fraction = Y1541_IPDV_QUANTILE
) -> float:
    """Y.1541 IPDV: RFC 2330 (1 − 10⁻³) quantile minus the minimum of delivered packets.

    Below 1000 packets the quantile is the sample maximum (docs/methods.md §1.2).
    """
    data = np.asarray(delays, dtype=np.float64)
    data = data[~np.isnan(data)]
    if data.size == 0:
        return math.nan
    return percentile(data, quantile) - float(data.min())


def pdv_series(delays: np.ndarray) -> np.ndarray:
    """PDV(i) = D(i) − D(min), D(min) over this sample (RFC 5481 §4.2, §11); NaN if lost."""
    data = np.asarray(delays, dtype=np.float64)
    if np.all(np.isnan(data)):
        return np.full(data.shape, np.nan)
    return data - np.nanmin(data)


def ipdv_series(delays: np.ndarray) -> np.ndarray:
    """IPDV(i) = D(i) − D(i−1) for consecutive packets; NaN when either is lost (RFC 3393)."""
    data = np.asarray(delays, dtype=np.float64)
    out = np.full(data.shape, np.nan)
    out[1:] = data[1:] - data[:-1]
    return out


def ipdv_inter_quantile_range(delays: np.ndarray, low: str = "5%", high: str = "95%") -> float:
    """IPDV reported as an inter-quantile range, e.g. 5 %–95 % (RFC 5481 §6, §11)."""
    series = ipdv_series(delays)
    series = series[~np.isnan(series)]
    if series.size == 0:
        return math.nan
    return percentile(series, high) - percentile(series, low)


def mean_abs_ipdv(delays: np.ndarray) -> float:
    """Mean |IPDV| of consecutive pairs (RFC 3393 §4.5 "jitter"); pairs with a loss dropped."""
    series = ipdv_series(delays)
    series = series[~np.isnan(series)]
    return float(np.mean(np.abs(series))) if series.size else math.nan


def jitter_rfc3550_series(transit: np.ndarray) -> np.ndarray:
    """Running RFC 3550 jitter after each received packet, in arrival order (§6.1).

    J(i) = J(i−1) + (|D(i−1, i)| − J(i−1))/16 is the first-order IIR filter
    y = (1/16)·x + (15/16)·y₋₁ on x = |ΔD|, run here with :func:`scipy.signal.lfilter`.
    NaN (lost) entries are skipped.  The result has one value per received packet from the
    second on.
    """
    data = np.asarray(transit, dtype=np.float64)
    data = data[~np.isnan(data)]
    if data.size < 2:
        return np.empty(0)
    diffs = np.abs(np.diff(data))
    return lfilter([1.0 / 16.0], [1.0, -15.0 / 16.0], diffs)


def jitter_rfc3550(transit: np.ndarray) -> float:
    """RFC 3550 interarrival jitter after the last packet (NaN with < 2 received)."""
    series = jitter_rfc3550_series(transit)
    return float(series[-1]) if series.size else math.nan


def jitter_rfc3550_int(transit_ts: np.ndarray) -> int:
    """RFC 3550 §A.8 integer variant on integer timestamp units; returns ``jitter >> 4``.

    ``jitter += d − ((jitter + 8) >> 4)`` keeps 4 fractional bits (vector V6 reports 6).
    """
    scaled = 0
    previous: int | None = None
    for value in np.asarray(transit_ts).tolist():
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        current = int(value)
        if previous is not None:
            d = abs(current - previous)
            scaled += d - ((scaled + 8) >> 4)
        previous = current
    return scaled >> 4


def arrival_order(send_offset_s: np.ndarray, rtt_s: np.ndarray) -> np.ndarray:
    """Indices of received packets sorted by reply arrival (send + RTT), for RFC 3550."""
    send = np.asarray(send_offset_s, dtype=np.float64)
    rtt = np.asarray(rtt_s, dtype=np.float64)
    received = np.flatnonzero(~np.isnan(rtt))
    return received[np.argsort(send[received] + rtt[received], kind="stable")]


def rtcp_rtt_s(arrival_ntp32: int, lsr: int, dlsr: int) -> float:
    """RTCP round-trip time A − LSR − DLSR in the 16.16 NTP middle-32-bit format (§6.1 V7)."""
    return ((arrival_ntp32 - lsr - dlsr) & 0xFFFFFFFF) / 65536.0
