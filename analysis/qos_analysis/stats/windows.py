"""The windowing engine: rows → (scope, window) groups, used by the aggregates and by
scoring alike (docs/architecture.md §2: windowed statistics, then verdicts).

Windows shorter than a day are aligned in UTC, whole days on the agent's local midnight;
periods such as peak hours select rows by the agent's local time (the profile's
``[periods]``).  With no window (``None``, "all") every scope is one group spanning its
first to its last row.  Pure arrays in, arrays out: no loader, no populations.

``probe_aggregates``, ``throughput_aggregates``, ``peak_offpeak`` and
``DEFAULT_PERCENTILES`` live in :mod:`qos_analysis.aggregates`; they stay importable from
here (resolved on first access, so this module never imports the loader).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from qos.profiles import Period
from qos_analysis.stats.grouped import distinct_per_group, group_codes, group_codes_by_width
from qos_analysis.stats.timebase import (
    US_PER_DAY,
    US_PER_S,
    in_period,
    local_epoch_us,
    window_numbers,
    window_starts,
)

_MOVED = frozenset(
    {"DEFAULT_PERCENTILES", "peak_offpeak", "probe_aggregates", "throughput_aggregates"}
)


@dataclass(frozen=True)
class Windows:
    """Rows selected (by period) and their (scope, window) groups.

    Groups are ordered by scope, then window.  ``local_us`` is the local clock of every
    row (the UTC time when no local rule needed it); ``tz_unknown`` says whether some
    rows had no known time zone and were taken as UTC.
    """

    sel: Any  # slice(None) or index array of the selected rows
    codes: np.ndarray  # group per selected row
    n_groups: int
    g_scope: np.ndarray  # scope per group
    start_us: np.ndarray  # UTC window start per group
    end_us: np.ndarray  # UTC window end per group
    local_us: np.ndarray
    tz_unknown: bool
    items: np.ndarray | None = None  # e.g. measurement row per row, for ``distinct``

    @cached_property
    def tests(self) -> np.ndarray:
        """Distinct ``items`` (measurements) per group."""
        if self.items is None:
            raise ValueError("windows built without items")
        return distinct_per_group(self.codes, self.items[self.sel], self.n_groups)


def window_groups(
    t_us: np.ndarray,
    scope: np.ndarray,
    n_scopes: int,
    window_s: float | None,
    *,
    tz_code: np.ndarray,
    tz_names: tuple[str | None, ...],
    period: Period | None = None,
    outside_period: bool = False,
    local_time: bool = False,
    items: np.ndarray | None = None,
) -> Windows:
    """Group rows (epoch µs ``t_us``, ``scope`` codes) by scope and window.

    ``period`` keeps only rows inside it (outside it with ``outside_period``), in local
    time; ``local_time`` asks for the local clock even when neither the period nor
    whole-day windows need it (local calendar-day rules downstream).
    """
    whole_days = window_s is not None and window_s % 86400 == 0
    if local_time or period is not None or whole_days:
        local_us, tz_unknown = local_epoch_us(t_us, tz_code, tz_names)
    else:
        local_us, tz_unknown = t_us, False
    sel: Any = slice(None)
    if period is not None:
        inside = in_period(local_us, period)
        sel = np.flatnonzero(~inside if outside_period else inside)
    t_sel = t_us[sel]
    local_sel = local_us[sel]
    if window_s is None:
        codes, g_scope, g_win = group_codes(
            scope[sel], n_scopes, window_numbers(t_sel, local_sel, None)
        )
    else:
        # Window numbers as window_numbers() gives them, computed slice by slice.
        width = round(window_s * US_PER_S)
        clock = local_sel if width % US_PER_DAY == 0 else t_sel
        codes, g_scope, g_win = group_codes_by_width(scope[sel], n_scopes, clock, width)
    n_groups = len(g_scope)
    if window_s is None:
        start_us = np.full(n_groups, np.iinfo(np.int64).max)
        end_us = np.full(n_groups, np.iinfo(np.int64).min)
        np.minimum.at(start_us, codes, t_sel)
        np.maximum.at(end_us, codes, t_sel)
    else:
        start_us = window_starts(g_win, codes, t_sel, local_sel, window_s)
        end_us = start_us + round(window_s * US_PER_S)
    return Windows(sel, codes, n_groups, g_scope, start_us, end_us, local_us, tz_unknown, items)


def __getattr__(name: str) -> Any:
    """The aggregates, moved to :mod:`qos_analysis.aggregates`, under their old names."""
    if name in _MOVED:
        return getattr(importlib.import_module("qos_analysis.aggregates"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
