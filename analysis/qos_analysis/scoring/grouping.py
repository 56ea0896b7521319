"""Rows of a population selected for an objective, grouped by (scope, window)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from qos.profiles import Period
from qos_analysis.populations import Population
from qos_analysis.stats.grouped import distinct_per_group, group_codes
from qos_analysis.stats.timebase import (
    US_PER_S,
    in_period,
    local_epoch_us,
    window_numbers,
    window_starts,
)


@dataclass
class Grouping:
    """Rows selected for an objective and their (scope, window) groups; shared by the
    objectives of a profile that use the same population, window and period."""

    sel: Any  # slice or index array into the population
    codes: np.ndarray
    n_groups: int
    g_scope: np.ndarray
    start_us: np.ndarray
    end_us: np.ndarray
    tests: np.ndarray
    local_us: np.ndarray
    tz_unknown: bool


def group_rows(
    pop: Population,
    window_s: float | None,
    period: Period | None,
    needs_local: bool,
    cache: dict[tuple[Any, ...], Any],
) -> Grouping:
    key = (id(pop), window_s, None if period is None else period.name, needs_local)
    if key in cache:
        return cache[key]
    if needs_local:
        local_us, tz_unknown = local_epoch_us(pop.t_us, pop.tz_code, pop.tz_names)
    else:
        local_us, tz_unknown = pop.t_us, False
    sel: Any = slice(None)
    if period is not None:
        sel = np.flatnonzero(in_period(local_us, period))
    t_sel = pop.t_us[sel]
    local_sel = local_us[sel]
    win = window_numbers(t_sel, local_sel, window_s)
    codes, g_scope, g_win = group_codes(pop.scope[sel], len(pop.scopes), win)
    n_groups = len(g_scope)
    if window_s is None:
        start_us = np.full(n_groups, np.iinfo(np.int64).max)
        end_us = np.full(n_groups, np.iinfo(np.int64).min)
        np.minimum.at(start_us, codes, t_sel)
        np.maximum.at(end_us, codes, t_sel)
    else:
        start_us = window_starts(g_win, codes, t_sel, local_sel, window_s)
        end_us = start_us + round(window_s * US_PER_S)
    tests = distinct_per_group(codes, pop.measurement[sel], n_groups)
    grouping = Grouping(
        sel, codes, n_groups, g_scope, start_us, end_us, tests, local_us, tz_unknown
    )
    cache[key] = grouping
    return grouping
