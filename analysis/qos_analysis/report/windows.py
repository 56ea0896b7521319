"""Per-scope aggregates behind the figures: fixed windows, weekday × hour grids, peak hours.

Percentiles here are for display (numpy's ``inverted_cdf``, an exact-rank order statistic
like RFC 2330's); verdicts always come from the scoring engine.  Loss counts every probe
that got no reply, failed tests included (``qos_analysis.populations``), with a two-sided
Clopper–Pearson interval (ITU-T Y.1541 Appendix, exact binomial).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from qos.profiles import Period
from qos_analysis.scoring.rows import format_window
from qos_analysis.stats.proportions import clopper_pearson
from qos_analysis.stats.timebase import US_PER_DAY, US_PER_S, in_period

_WIDTHS_S = (60, 300, 900, 3600, 6 * 3600, 86400, 7 * 86400)
MAX_WINDOWS = 400


@dataclass(frozen=True)
class WindowStats:
    start_us: np.ndarray
    end_us: np.ndarray
    sent: np.ndarray
    loss: np.ndarray
    loss_low: np.ndarray
    loss_high: np.ndarray
    median_s: np.ndarray
    p95_s: np.ndarray
    width_label: str


def display_width_s(span_us: int) -> int:
    """The smallest standard window giving at most :data:`MAX_WINDOWS` windows."""
    for width in _WIDTHS_S:
        if span_us / (width * US_PER_S) <= MAX_WINDOWS:
            return width
    return _WIDTHS_S[-1]


def window_stats(t_us: np.ndarray, delay_s: np.ndarray, width_s: int) -> WindowStats:
    """Loss (with CI) and median / p95 delay per UTC-aligned window of ``width_s``."""
    width = width_s * US_PER_S
    win = t_us // width
    frame = pd.DataFrame({"w": win, "d": delay_s, "lost": np.isnan(delay_s)})
    grouped = frame.groupby("w", sort=True)
    sent = grouped.size().to_numpy(np.int64)
    lost = grouped["lost"].sum().to_numpy(np.int64)
    delays = grouped["d"]
    median = delays.quantile(0.5, interpolation="higher").to_numpy(np.float64)
    p95 = delays.quantile(0.95, interpolation="higher").to_numpy(np.float64)
    low, high = clopper_pearson(lost, sent, 0.95)
    starts = grouped.size().index.to_numpy(np.int64) * width
    return WindowStats(
        start_us=starts,
        end_us=starts + width,
        sent=sent,
        loss=lost / sent,
        loss_low=np.asarray(low, np.float64),
        loss_high=np.asarray(high, np.float64),
        median_s=median,
        p95_s=p95,
        width_label=format_window(width_s),
    )


def weekday_hour(local_us: np.ndarray, delay_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """7 × 24 grids (Monday first) of median delay (ms) and loss ratio, local time."""
    day = local_us // US_PER_DAY
    weekday = (day + 3) % 7  # 1970-01-01 was a Thursday
    hour = (local_us % US_PER_DAY) // (3600 * US_PER_S)
    cell = (weekday * 24 + hour).astype(np.int64)
    lost = np.isnan(delay_s)
    sent = np.bincount(cell, minlength=168)
    loss = np.full(168, np.nan)
    np.divide(np.bincount(cell[lost], minlength=168), sent, out=loss, where=sent > 0)
    median = np.full(168, np.nan)
    frame = pd.DataFrame({"c": cell[~lost], "d": delay_s[~lost]})
    if len(frame):
        med = frame.groupby("c")["d"].median()
        median[med.index.to_numpy(np.int64)] = med.to_numpy() * 1e3
    return median.reshape(7, 24), loss.reshape(7, 24)


@dataclass(frozen=True)
class PeriodStats:
    name: str
    sent: int
    loss: float
    loss_low: float
    loss_high: float
    median_s: float
    p95_s: float


def period_split(local_us: np.ndarray, delay_s: np.ndarray, period: Period) -> list[PeriodStats]:
    """The same statistics inside and outside a local-time period (peak vs off-peak)."""
    inside = in_period(local_us, period)
    return [
        _period(period.name, delay_s[inside]),
        _period(f"outside {period.name}", delay_s[~inside]),
    ]


def _period(name: str, delay_s: np.ndarray) -> PeriodStats:
    sent = int(delay_s.size)
    lost = int(np.isnan(delay_s).sum())
    low, high = clopper_pearson(lost, sent, 0.95) if sent else (np.nan, np.nan)
    delivered = delay_s[~np.isnan(delay_s)]
    med = float(np.quantile(delivered, 0.5, method="inverted_cdf")) if delivered.size else np.nan
    p95 = float(np.quantile(delivered, 0.95, method="inverted_cdf")) if delivered.size else np.nan
    return PeriodStats(
        name=name,
        sent=sent,
        loss=lost / sent if sent else float("nan"),
        loss_low=float(low),
        loss_high=float(high),
        median_s=med,
        p95_s=p95,
    )
