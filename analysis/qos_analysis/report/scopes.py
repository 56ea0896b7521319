"""Per-scope sample arrays (agent × collector × target) for the report's figures and tables.

The probe and test populations are built once with the scoring engine's own rules
(:mod:`qos_analysis.populations`: failed tests count as loss, errors are excluded), then
split by scope with one stable sort, so a million probes cost one pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qos_analysis.load import Dataset
from qos_analysis.populations import Population, probe_population, test_population
from qos_analysis.stats.timebase import local_epoch_us


@dataclass(frozen=True)
class ProbeScope:
    """Probes of one scope, in send-time order; delays in seconds, NaN when lost."""

    agent_id: str
    collector: str
    target: str
    timezone: str
    t_us: np.ndarray
    local_us: np.ndarray
    rtt_s: np.ndarray
    forward_s: np.ndarray
    backward_s: np.ndarray
    one_way_valid: np.ndarray
    tests: int
    excluded_tests: int


@dataclass(frozen=True)
class SpeedScope:
    """Throughput tests of one scope and direction (goodput, bit/s; failed tests are 0)."""

    agent_id: str
    collector: str
    target: str
    timezone: str
    direction: str
    t_us: np.ndarray
    local_us: np.ndarray  # the agent's wall clock, as the campaign rules count days
    goodput_bps: np.ndarray


def probe_scopes(data: Dataset, failed_tests: str = "count") -> list[ProbeScope]:
    """One :class:`ProbeScope` per scope with at least one probe."""
    pop = probe_population(data, failed_tests=failed_tests)
    if len(pop) == 0:
        return []
    local_us, _ = local_epoch_us(pop.t_us, pop.tz_code, pop.tz_names)
    order = np.lexsort((pop.t_us, pop.scope))
    bounds = np.searchsorted(pop.scope[order], np.arange(len(pop.scopes) + 1))
    out = []
    for code in range(len(pop.scopes)):
        idx = order[bounds[code] : bounds[code + 1]]
        if idx.size == 0:
            continue
        row = pop.scopes.iloc[code]
        out.append(
            ProbeScope(
                agent_id=str(row["agent_id"]),
                collector=str(row["collector"]),
                target=str(row["target"]),
                timezone=_zone(pop, idx),
                t_us=pop.t_us[idx],
                local_us=local_us[idx],
                rtt_s=pop.values["rtt_s"][idx],
                forward_s=pop.values["forward_delay_s"][idx],
                backward_s=pop.values["backward_delay_s"][idx],
                one_way_valid=pop.values["one_way_valid"][idx],
                tests=int(row["tests"]),
                excluded_tests=int(row["excluded_tests"]),
            )
        )
    return out


def speed_scopes(data: Dataset, failed_tests: str = "count") -> list[SpeedScope]:
    """One :class:`SpeedScope` per scope and direction with throughput tests."""
    out = []
    for direction in ("download", "upload"):
        pop = test_population(data, f"{direction}_speed", failed_tests=failed_tests)
        if len(pop) == 0:
            continue
        local_us, _ = local_epoch_us(pop.t_us, pop.tz_code, pop.tz_names)
        for code in range(len(pop.scopes)):
            idx = np.flatnonzero(pop.scope == code)
            if idx.size == 0:
                continue
            idx = idx[np.argsort(pop.t_us[idx], kind="stable")]
            row = pop.scopes.iloc[code]
            out.append(
                SpeedScope(
                    agent_id=str(row["agent_id"]),
                    collector=str(row["collector"]),
                    target=str(row["target"]),
                    timezone=_zone(pop, idx),
                    direction=direction,
                    t_us=pop.t_us[idx],
                    local_us=local_us[idx],
                    goodput_bps=pop.values["value"][idx],
                )
            )
    return out


def _zone(pop: Population, idx: np.ndarray) -> str:
    code = int(pop.tz_code[idx[0]])
    if code < 0 or code >= len(pop.tz_names) or pop.tz_names[code] in (None, "None", "nan"):
        return "unknown (UTC used)"
    return str(pop.tz_names[code])
