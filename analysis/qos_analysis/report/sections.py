"""Per-scope sections (agent × collector × target): figures and tables.

Delay figures use measured one-way delay when the scope's probes carry valid one-way
delays (STAMP with synchronised clocks, RFC 8762 §4), otherwise the round-trip time.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import time

import numpy as np

from qos.profiles import Period, Profile
from qos_analysis.report import figures
from qos_analysis.report.fmt import interval, number
from qos_analysis.report.model import ScopeSection, Table, Verdict
from qos_analysis.report.scopes import ProbeScope, SpeedScope
from qos_analysis.report.text import clean_name
from qos_analysis.report.windows import display_width_s, period_split, weekday_hour, window_stats

MAX_SECTIONS = 24
DEFAULT_PEAK = Period("evening 19:00–23:00", time(19, 0), 23 * 60, tuple(range(7)))


def _key(agent: str, collector: str, target: str) -> tuple[str, str, str]:
    return clean_name(agent), clean_name(collector), clean_name(target)


def failing_windows(
    verdicts: Sequence[Verdict],
) -> dict[tuple[str, str, str], list[tuple[int, int]]]:
    """(agent, collector, target) → UTC µs spans of windows with a failing verdict."""
    import pandas as pd

    out: dict[tuple[str, str, str], set[tuple[int, int]]] = {}
    for v in verdicts:
        if v.outcome != "fail" or v.window == "all" or not v.window_start or not v.window_end:
            continue
        span = (
            pd.Timestamp(v.window_start).value // 1000,
            pd.Timestamp(v.window_end).value // 1000,
        )
        key = (v.agent_id or "", v.collector or "", v.target or "")
        out.setdefault(key, set()).add(span)
    return {k: sorted(s) for k, s in out.items()}


def probe_section(
    index: int, scope: ProbeScope, failing: list[tuple[int, int]], profile: Profile
) -> ScopeSection:
    agent, collector, target = _key(scope.agent_id, scope.collector, scope.target)
    one_way = bool(scope.one_way_valid.any())
    delay = scope.rtt_s
    label = "RTT"
    series: list[tuple[str, np.ndarray]] = [("round trip", scope.rtt_s)]
    if one_way:
        series = [
            ("forward (one-way)", np.where(scope.one_way_valid, scope.forward_s, np.nan)),
            ("backward (one-way)", np.where(scope.one_way_valid, scope.backward_s, np.nan)),
            ("round trip", scope.rtt_s),
        ]
    span = int(scope.t_us[-1] - scope.t_us[0]) if scope.t_us.size else 0
    stats = window_stats(scope.t_us, delay, display_width_s(span))
    median, loss = weekday_hour(scope.local_us, delay)
    fid = f"s{index:02d}"
    figs = (
        figures.latency_over_time(f"{fid}-latency", f"{label} over time", stats, failing, label),
        figures.delay_cdf(f"{fid}-cdf", "Delay distribution (CDF)", series),
        figures.heatmaps(f"{fid}-heatmap", "Weekday × hour of day", median, loss, scope.timezone),
        figures.loss_per_window(f"{fid}-loss", "Loss per window with 95 % interval", stats),
    )
    notes = []
    if not one_way and any(o.spec.one_way for o in profile.objectives):
        notes.append("one-way objectives are judged from round-trip data by the rule shown")
    return ScopeSection(
        scope=f"{agent}|{collector}|{target}",
        agent_id=agent,
        collector=collector,
        target=target,
        timezone=clean_name(scope.timezone),
        figures=figs,
        tables=(_peak_table(scope, delay, profile),),
        notes=tuple(notes),
    )


def _peak_table(scope: ProbeScope, delay: np.ndarray, profile: Profile) -> Table:
    period = next(iter(profile.periods.values()), None) or DEFAULT_PEAK
    rows = []
    for part in period_split(scope.local_us, delay, period):
        rows.append(
            (
                clean_name(part.name),
                f"{part.sent:,}",
                number(part.loss, "ratio"),
                interval(part.loss_low, part.loss_high, "ratio"),
                number(part.median_s, "s"),
                number(part.p95_s, "s"),
            )
        )
    source = "the profile's period" if profile.periods else "a default evening period"
    return Table(
        title="Peak vs off-peak (agent's local time)",
        columns=("period", "probes", "loss", "loss 95 % CI", "median delay", "p95 delay"),
        rows=tuple(rows),
        note=f"Peak hours from {source}.",
    )


def speed_section(index: int, scope: SpeedScope, profile: Profile) -> ScopeSection:
    agent, collector, target = _key(scope.agent_id, scope.collector, scope.target)
    lines = _speed_lines(profile, scope.direction)
    fig = figures.throughput_tests(
        f"t{index:02d}-{scope.direction}",
        f"{scope.direction.capitalize()} tests against contracted speeds",
        scope.t_us,
        scope.goodput_bps,
        lines,
    )
    rows = []
    for name, value in lines:
        met = int(np.sum(scope.goodput_bps >= value))
        rows.append((name, number(value, "bit/s"), f"{met} of {scope.goodput_bps.size}"))
    table = Table(
        title=f"{scope.direction.capitalize()} tests reaching each contracted speed",
        columns=("speed", "value", "tests at or above"),
        rows=tuple(rows),
        note="" if lines else "The profile names no contracted speed for this direction.",
    )
    return ScopeSection(
        scope=f"{agent}|{collector}|{target}|{scope.direction}",
        agent_id=agent,
        collector=collector,
        target=target,
        timezone=clean_name(scope.timezone),
        figures=(fig,),
        tables=(table,),
    )


def _speed_lines(profile: Profile, direction: str) -> list[tuple[str, float]]:
    """(name, bit/s) of the profile's rate parameters for this direction, with values."""
    out = []
    for name, par in profile.parameters.items():
        if par.dimension == "rate" and par.value is not None and name.startswith(direction):
            out.append((re.sub(r"[^A-Za-z0-9_ .-]", "?", name)[:40], float(par.value)))
    return sorted(out, key=lambda item: -item[1])
