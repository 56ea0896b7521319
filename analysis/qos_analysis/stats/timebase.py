"""Time helpers: local time per agent, fixed windows, local-time periods (peak hours).

Timestamps are int64 microseconds since the Unix epoch, UTC.  Local-time rules (FCC peak
hours 19–23 h, BNetzA calendar days) use each agent's IANA time zone; windows shorter than
a day are aligned in UTC, windows of whole days are aligned on local midnight.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from qos.profiles import Period

US_PER_S = 1_000_000
US_PER_DAY = 86_400 * US_PER_S


def local_epoch_us(t_us: np.ndarray, timezones: np.ndarray) -> tuple[np.ndarray, bool]:
    """Wall-clock local time as "epoch microseconds" per row (naive local clock).

    Returns the array and whether any row had no known time zone (then UTC was used).
    """
    t_us = np.asarray(t_us, dtype=np.int64)
    out = t_us.copy()
    zones = pd.Series(timezones, dtype=object)
    unknown = bool(zones.isna().any()) if len(zones) else False
    for zone in zones.dropna().unique():
        if zone in ("UTC", "Etc/UTC", "Z"):
            continue
        idx = np.flatnonzero((zones == zone).to_numpy())
        stamps = pd.DatetimeIndex(pd.to_datetime(t_us[idx], unit="us", utc=True))
        try:
            local = stamps.tz_convert(str(zone)).tz_localize(None)
        except (KeyError, ValueError) as exc:  # unknown zone name
            raise ValueError(f"unknown time zone {zone!r}: {exc}") from None
        out[idx] = local.asi8 // (1000 if local.unit == "ns" else 1)
    return out, unknown


def window_index(t_us: np.ndarray, local_us: np.ndarray, window_s: float | None) -> np.ndarray:
    """Window start per row (epoch µs, UTC-aligned; local-midnight-aligned for whole days).

    ``window_s`` None puts every row in one window (returns zeros).
    """
    if window_s is None:
        return np.zeros(len(t_us), dtype=np.int64)
    width = round(window_s * US_PER_S)
    if width % US_PER_DAY == 0:
        # Whole local days: align on local midnight, report the UTC instant of that midnight.
        offset = local_us - t_us
        return (local_us // width) * width - offset
    return (t_us // width) * width


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
