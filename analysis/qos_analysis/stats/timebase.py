"""Time helpers: local time per agent, fixed windows, local-time periods (peak hours).

Timestamps are int64 microseconds since the Unix epoch, UTC.  Local-time rules (FCC peak
hours 19–23 h, BNetzA calendar days) use each agent's IANA time zone; windows shorter than
a day are aligned in UTC, windows of whole days are aligned on local midnight.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from qos.profiles import Period

_UTC_NAMES = frozenset({"UTC", "Etc/UTC", "Z", "GMT", "Etc/GMT"})

US_PER_S = 1_000_000
US_PER_DAY = 86_400 * US_PER_S


def local_epoch_us(
    t_us: np.ndarray, tz_code: np.ndarray, tz_names: Sequence[str | None]
) -> tuple[np.ndarray, bool]:
    """Wall-clock local time as "epoch microseconds" per row (naive local clock).

    ``tz_code`` indexes ``tz_names`` (−1 = unknown).  Returns the array and whether any row
    had no known time zone (UTC is used for those).
    """
    t_us = np.asarray(t_us, dtype=np.int64)
    tz_code = np.asarray(tz_code)
    unknown = bool(np.any(tz_code < 0)) if tz_code.size else False
    out: np.ndarray | None = None
    for code, zone in enumerate(tz_names):
        if zone is None or zone in _UTC_NAMES:
            continue
        idx = np.flatnonzero(tz_code == code)
        if idx.size == 0:
            continue
        if out is None:
            out = t_us.copy()
        stamps = pd.DatetimeIndex(pd.to_datetime(t_us[idx], unit="us", utc=True))
        try:
            local = stamps.tz_convert(str(zone)).tz_localize(None)
        except (KeyError, ValueError) as exc:  # unknown zone name
            raise ValueError(f"unknown time zone {zone!r}: {exc}") from None
        out[idx] = local.asi8 // (1000 if local.unit == "ns" else 1)
    return (t_us if out is None else out), unknown


def window_numbers(t_us: np.ndarray, local_us: np.ndarray, window_s: float | None) -> np.ndarray:
    """Integer window number per row: ⌊t / width⌋ in UTC, or ⌊local / width⌋ for whole days.

    ``window_s`` None puts every row in one window (all zeros).
    """
    if window_s is None:
        return np.zeros(len(t_us), dtype=np.int64)
    width = round(window_s * US_PER_S)
    if width % US_PER_DAY == 0:
        return np.asarray(local_us, dtype=np.int64) // width
    return np.asarray(t_us, dtype=np.int64) // width


def window_starts(
    g_window: np.ndarray, codes: np.ndarray, t_us: np.ndarray, local_us: np.ndarray, window_s: float
) -> np.ndarray:
    """UTC start of each group's window (local midnight converted back for whole days)."""
    width = round(window_s * US_PER_S)
    starts = np.asarray(g_window, dtype=np.int64) * width
    if width % US_PER_DAY == 0 and len(codes):
        first = np.empty(len(g_window), dtype=np.int64)
        first[codes[::-1]] = np.arange(len(codes) - 1, -1, -1)
        starts = starts - (np.asarray(local_us)[first] - np.asarray(t_us)[first])
    return starts


def local_day(local_us: np.ndarray) -> np.ndarray:
    """Local calendar day number (days since 1970-01-01 on the local clock)."""
    return np.asarray(local_us, dtype=np.int64) // US_PER_DAY


def in_period(local_us: np.ndarray, period: Period) -> np.ndarray:
    """Boolean mask: rows whose local time falls inside ``period`` (wraps past midnight)."""
    local_us = np.asarray(local_us, dtype=np.int64)
    day = local_us // US_PER_DAY
    weekday = (day + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    minute = (local_us % US_PER_DAY) // (60 * US_PER_S)
    start = period.start.hour * 60 + period.start.minute
    end = period.end_minutes
    days = np.zeros(7, dtype=bool)
    days[list(period.days)] = True
    if start < end:
        return days[weekday] & (minute >= start) & (minute < end)
    late = days[weekday] & (minute >= start)
    early = days[(weekday - 1) % 7] & (minute < end)
    return late | early
