"""Windowed aggregates per target/agent/window, and peak vs off-peak in local time.

Every aggregate carries its sample counts and, for loss, the Clopper–Pearson interval
(docs/methods.md §9.1), so a reader sees how much a number can be trusted.  Percentiles are
RFC 2330 exact-rank values over delivered packets (docs/methods.md §6.4); failed
measurements count as loss (see :mod:`qos_analysis.populations`).  Rows are grouped by the
windowing engine of :mod:`qos_analysis.stats.windows`, the one scoring uses: windows
shorter than a day are aligned in UTC, whole days on the agent's local midnight; periods
such as peak hours are evaluated in the agent's local time zone (the profile's
``[periods]``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from qos.profiles import Period, Profile
from qos.units import parse_duration_s
from qos_analysis.load import Dataset
from qos_analysis.populations import Population, probe_population, test_population
from qos_analysis.stats.grouped import sort_groups
from qos_analysis.stats.proportions import clopper_pearson
from qos_analysis.stats.quantiles import as_fraction
from qos_analysis.stats.windows import Windows

DEFAULT_PERCENTILES = ("50%", "95%", "99%", "99.9%")
_ORDER = ["agent_id", "collector", "target", "window_start"]


def _window_s(window: str | float | None) -> float | None:
    if window is None or window == "all":
        return None
    return float(window) if isinstance(window, int | float) else parse_duration_s(window)


def _windows(
    pop: Population, window_s: float | None, period: Period | None, outside: bool
) -> tuple[Windows, pd.DataFrame]:
    """The population's (scope, window) groups and their scope table with window bounds."""
    win = pop.windows(window_s, period=period, outside_period=outside)
    table = pop.scopes.iloc[win.g_scope][["agent_id", "collector", "target"]]
    table = table.reset_index(drop=True).assign(
        window_start=pd.to_datetime(win.start_us, unit="us", utc=True),
        window_end=pd.to_datetime(win.end_us, unit="us", utc=True),
    )
    return win, table


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
    pop = probe_population(data, failed_tests=failed_tests)
    win, out = _windows(pop, _window_s(window), period, outside_period)
    codes, n_groups = win.codes, win.n_groups
    rtt = pop.values["rtt_s"][win.sel]
    sent = np.bincount(codes, minlength=n_groups).astype(np.int64)
    lost = np.bincount(codes[np.isnan(rtt)], minlength=n_groups).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        loss = lost / sent
    lo, hi = clopper_pearson(lost, sent, confidence)
    out["tests"] = win.tests
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
    return out.sort_values(_ORDER, ignore_index=True)


def throughput_aggregates(
    data: Dataset,
    window: str | float | None = "1d",
    *,
    direction: str = "download",
    period: Period | None = None,
    failed_tests: str = "count",
) -> pd.DataFrame:
    """Goodput per (agent, collector, target, window): tests, mean, median, p10, p90, min."""
    pop = test_population(data, f"{direction}_speed", failed_tests=failed_tests)
    win, table = _windows(pop, _window_s(window), period, False)
    values = pop.values["value"][win.sel]
    sg = sort_groups(win.codes, values, win.n_groups, lost="exclude")
    n, mean, _ = sg.mean_std()
    return (
        table.drop(columns="window_end")
        .assign(
            direction=direction,
            tests=n,
            goodput_mean_bps=mean,
            goodput_median_bps=sg.median_rfc7679(lost="exclude"),
            goodput_p10_bps=sg.quantile("10%"),
            goodput_p90_bps=sg.quantile("90%"),
            goodput_min_bps=sg.minimum(),
        )
        .sort_values(_ORDER, ignore_index=True)
    )


def peak_offpeak(
    data: Dataset,
    profile: Profile,
    period: str = "peak",
    window: str | float | None = "1d",
    *,
    percentiles: Sequence[str] = DEFAULT_PERCENTILES,
    failed_tests: str = "count",
    confidence: float = 0.95,
) -> pd.DataFrame:
    """:func:`probe_aggregates` inside and outside a profile period, stacked with a
    ``period`` column (``"<name>"`` / ``"off-<name>"``), in each agent's local time; the
    keyword options are :func:`probe_aggregates`'s."""
    if period not in profile.periods:
        from qos.errors import ProfileError
        from qos.suggest import unknown_name_hint

        raise ProfileError(
            f"profile {profile.id} has no period '{period}'",
            hint=unknown_name_hint(period, profile.periods),
        )
    spec = profile.periods[period]
    inside, outside = (
        probe_aggregates(
            data,
            window,
            percentiles=percentiles,
            period=spec,
            outside_period=outside_period,
            failed_tests=failed_tests,
            confidence=confidence,
        )
        for outside_period in (False, True)
    )
    return pd.concat(
        [inside.assign(period=period), outside.assign(period=f"off-{period}")], ignore_index=True
    )
