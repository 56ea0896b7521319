"""Windowed aggregates per target/agent/window, and peak vs off-peak in local time.

Every aggregate carries its sample counts and, for loss, the Clopper–Pearson interval
(docs/methods.md §9.1), so a reader sees how much a number can be trusted.  Percentiles are
RFC 2330 exact-rank values over delivered packets (docs/methods.md §6.4); failed
measurements count as loss (see :mod:`qos_analysis.populations`).  Windows shorter than a
day are aligned in UTC, whole days on the agent's local midnight; periods such as peak
hours are evaluated in the agent's local time zone (from the profile's ``[periods]``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from qos.profiles import Period, Profile
from qos.units import parse_duration_s
from qos_analysis.load import Dataset
from qos_analysis.populations import Population, probe_population, test_population
from qos_analysis.stats.grouped import (
    distinct_per_group,
    group_codes,
    sort_groups,
)
from qos_analysis.stats.proportions import clopper_pearson
from qos_analysis.stats.quantiles import as_fraction
from qos_analysis.stats.timebase import (
    US_PER_S,
    in_period,
    local_epoch_us,
    window_numbers,
    window_starts,
)

DEFAULT_PERCENTILES = ("50%", "95%", "99%", "99.9%")


def _window_s(window: str | float | None) -> float | None:
    if window is None or window == "all":
        return None
    return float(window) if isinstance(window, int | float) else parse_duration_s(window)


def _groups(
    pop: Population, window_s: float | None, mask: np.ndarray | None
) -> tuple[Any, np.ndarray, pd.DataFrame, np.ndarray]:
    """(selected rows, group code per row, group table, window start per group)."""
    needs_local = mask is not None or (window_s is not None and window_s % 86400 == 0)
    local_us = local_epoch_us(pop.t_us, pop.tz_code, pop.tz_names)[0] if needs_local else pop.t_us
    sel: Any = np.flatnonzero(mask) if mask is not None else slice(None)
    t_sel, local_sel = pop.t_us[sel], local_us[sel]
    win = window_numbers(t_sel, local_sel, window_s)
    codes, g_scope, g_win = group_codes(pop.scope[sel], len(pop.scopes), win)
    starts = (
        np.zeros(len(g_win), dtype=np.int64)
        if window_s is None
        else window_starts(g_win, codes, t_sel, local_sel, window_s)
    )
    table = pop.scopes.iloc[g_scope][["agent_id", "collector", "target"]].reset_index(drop=True)
    return sel, codes, table, starts


def _period_mask(pop: Population, period: Period | None, invert: bool) -> np.ndarray | None:
    if period is None:
        return None
    local_us, _ = local_epoch_us(pop.t_us, pop.tz_code, pop.tz_names)
    inside = in_period(local_us, period)
    return ~inside if invert else inside


def probe_aggregates(
    data: Dataset,
    window: str | float | None = "1h",
    *,
    percentiles: Sequence[str] = DEFAULT_PERCENTILES,
    period: Period | None = None,
    outside_period: bool = False,
    failed_tests: str = "count",
    confidence: float = 0.95,
) -> pd.DataFrame:
    """RTT and loss aggregates per (agent, collector, target, window).

    Columns: window_start/window_end (UTC), tests, sent, received, lost, loss_ratio with
    ``loss_ci_low``/``loss_ci_high``, rtt_min_s, rtt_mean_s, rtt_median_s (RFC 7679),
    ``rtt_pXX_s`` for each percentile, rtt_max_s, ipdv_pseudo_range_s (Y.1541 on RTT).
    """
    window_s = _window_s(window)
    pop = probe_population(data, failed_tests=failed_tests)
    sel, codes, table, starts = _groups(pop, window_s, _period_mask(pop, period, outside_period))
    n_groups = len(table)
    rtt = pop.values["rtt_s"][sel]
    sent = np.bincount(codes, minlength=n_groups).astype(np.int64)
    lost = np.bincount(codes[np.isnan(rtt)], minlength=n_groups).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        loss = lost / sent
    lo, hi = clopper_pearson(lost, sent, confidence)
    out = table.assign(
        window_start=pd.to_datetime(starts, unit="us", utc=True),
        window_end=pd.to_datetime(
            starts + (0 if window_s is None else round(window_s * US_PER_S)), unit="us", utc=True
        ),
    )
    if window_s is None:
        first = np.full(n_groups, np.iinfo(np.int64).max)
        last = np.full(n_groups, np.iinfo(np.int64).min)
        np.minimum.at(first, codes, pop.t_us[sel])
        np.maximum.at(last, codes, pop.t_us[sel])
        out["window_start"] = pd.to_datetime(first, unit="us", utc=True)
        out["window_end"] = pd.to_datetime(last, unit="us", utc=True)
    out["tests"] = distinct_per_group(codes, pop.measurement[sel], n_groups)
    out["sent"] = sent
    out["received"] = sent - lost
    out["lost"] = lost
    out["loss_ratio"] = loss
    out["loss_ci_low"] = lo
    out["loss_ci_high"] = hi
    sg = sort_groups(codes, rtt, n_groups, lost="exclude")
    _, mean, _ = sg.mean_std()
    out["rtt_min_s"] = sg.minimum()
    out["rtt_mean_s"] = mean
    out["rtt_median_s"] = sg.median_rfc7679(lost="exclude")
    for p in percentiles:
        label = f"{float(as_fraction(p) * 100):g}".replace(".", "_")
        out[f"rtt_p{label}_s"] = sg.quantile(p)
    out["rtt_max_s"] = sg.maximum()
    out["ipdv_pseudo_range_s"] = sg.quantile("99.9%") - sg.minimum()
    return out.sort_values(["agent_id", "collector", "target", "window_start"], ignore_index=True)


def throughput_aggregates(
    data: Dataset,
    window: str | float | None = "1d",
    *,
    direction: str = "download",
    period: Period | None = None,
    failed_tests: str = "count",
) -> pd.DataFrame:
    """Goodput per (agent, collector, target, window): tests, mean, median, p10, p90, min."""
    window_s = _window_s(window)
    pop = test_population(data, f"{direction}_speed", failed_tests=failed_tests)
    sel, codes, table, starts = _groups(pop, window_s, _period_mask(pop, period, False))
    n_groups = len(table)
    values = pop.values["value"][sel]
    sg = sort_groups(codes, values, n_groups, lost="exclude")
    n, mean, _ = sg.mean_std()
    return table.assign(
        window_start=pd.to_datetime(starts, unit="us", utc=True),
        direction=direction,
        tests=n,
        goodput_mean_bps=mean,
        goodput_median_bps=sg.median_rfc7679(lost="exclude"),
        goodput_p10_bps=sg.quantile("10%"),
        goodput_p90_bps=sg.quantile("90%"),
        goodput_min_bps=sg.minimum(),
    ).sort_values(["agent_id", "collector", "target", "window_start"], ignore_index=True)


def peak_offpeak(
    data: Dataset,
    profile: Profile,
    period: str = "peak",
    window: str | float | None = "1d",
    **kwargs: object,
) -> pd.DataFrame:
    """:func:`probe_aggregates` inside and outside a profile period, stacked with a
    ``period`` column (``"<name>"`` / ``"off-<name>"``), in each agent's local time."""
    if period not in profile.periods:
        from qos.errors import ProfileError
        from qos.suggest import unknown_name_hint

        raise ProfileError(
            f"profile {profile.id} has no period '{period}'",
            hint=unknown_name_hint(period, profile.periods),
        )
    spec = profile.periods[period]
    inside = probe_aggregates(data, window, period=spec, **kwargs)  # type: ignore[arg-type]
    outside = probe_aggregates(data, window, period=spec, outside_period=True, **kwargs)  # type: ignore[arg-type]
    return pd.concat(
        [inside.assign(period=period), outside.assign(period=f"off-{period}")], ignore_index=True
    )
