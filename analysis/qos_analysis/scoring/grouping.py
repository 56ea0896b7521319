"""Rows of a population selected for an objective, grouped by (scope, window) with the
windowing engine of :mod:`qos_analysis.stats.windows`."""

from __future__ import annotations

from typing import Any

from qos.profiles import Period
from qos_analysis.populations import Population
from qos_analysis.stats.windows import Windows, window_groups


def group_rows(
    pop: Population,
    window_s: float | None,
    period: Period | None,
    needs_local: bool,
    cache: dict[tuple[Any, ...], Any],
) -> Windows:
    key = (id(pop), window_s, None if period is None else period.name, needs_local)
    if key in cache:
        return cache[key]
    grouping = window_groups(
        pop.t_us,
        pop.scope,
        len(pop.scopes),
        window_s,
        tz_code=pop.tz_code,
        tz_names=pop.tz_names,
        period=period,
        local_time=needs_local,
        items=pop.measurement,
    )
    cache[key] = grouping
    return grouping
