"""One scoring run: the data, the profile and everything its objectives share.

Objectives of a profile often use the same population (all probe objectives), the same
(scope, window) groups and the same sorted samples (a median and a p95 of one metric);
the run builds each once and owns the caches, keyed by what the thing is — a population
name, a window specification, a sample name — never by object identity.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from qos.profiles import Objective, Period, Profile
from qos_analysis.load import Dataset
from qos_analysis.populations import (
    Population,
    directional_population,
    probe_population,
    test_population,
)
from qos_analysis.scoring.rules import Samples
from qos_analysis.stats.grouped import SortedGroups, sort_groups
from qos_analysis.stats.windows import Windows

WindowKey = tuple[str, float | None, str | None, bool]


class ScoringRun:
    """The caches of one ``score()`` call: populations, windows, sorted samples."""

    def __init__(
        self,
        data: Dataset,
        profile: Profile,
        params: Mapping[str, float | None],
        confidence: float | None,
    ) -> None:
        self.data = data
        self.profile = profile
        self.params = params
        self.confidence = confidence
        self._populations: dict[str, Population | None] = {}
        self._windows: dict[WindowKey, Windows] = {}
        self._sorted: dict[tuple[WindowKey, str, str], SortedGroups] = {}
        self._fields: dict[WindowKey, dict[str, Any]] = {}

    def _population(self, key: str, obj: Objective) -> Population | None:
        if key not in self._populations:
            failed = self.profile.failed_tests
            if key == "probes":
                self._populations[key] = probe_population(self.data, failed_tests=failed)
            elif key == "directional":
                probes = self._population("probes", obj)
                assert probes is not None
                self._populations[key] = directional_population(probes)
            else:
                self._populations[key] = test_population(self.data, obj.metric, failed_tests=failed)
        return self._populations[key]

    def population(self, obj: Objective) -> tuple[str, Population]:
        """The population ``obj`` is scored on and its name: one row per test of a per-test
        metric, else the probes — split by direction for a one-way metric when the data
        measured each direction (STAMP, synchronised clocks)."""
        spec = obj.spec
        if spec.per_test is not None:
            key = f"tests:{obj.metric}"
            pop = self._population(key, obj)
            assert pop is not None
            return key, pop
        if spec.one_way:
            directional = self._population("directional", obj)
            if directional is not None:
                return "directional", directional
        probes = self._population("probes", obj)
        assert probes is not None
        return "probes", probes

    def windows(
        self,
        pop_key: str,
        pop: Population,
        window_s: float | None,
        period: Period | None,
        local_time: bool,
    ) -> tuple[WindowKey, Windows]:
        """The population's (scope, window) groups, built once per specification."""
        key: WindowKey = (pop_key, window_s, None if period is None else period.name, local_time)
        if key not in self._windows:
            self._windows[key] = pop.windows(window_s, period=period, local_time=local_time)
        return key, self._windows[key]

    def sorted_groups(self, window_key: WindowKey, samples: Samples, lost: str) -> SortedGroups:
        """``samples`` sorted within each group of the windows ``window_key``."""
        key = (window_key, samples.name, lost)
        if key not in self._sorted:
            win = self._windows[window_key]
            self._sorted[key] = sort_groups(
                win.codes,
                samples.source[win.sel],
                win.n_groups,
                lost=lost,
                divisor=samples.divisor,
            )
        return self._sorted[key]

    def group_fields(
        self, window_key: WindowKey, make: Callable[[], dict[str, Any]]
    ) -> dict[str, Any]:
        """The verdict fields of the groups of windows ``window_key`` that every objective
        scored on them shares (scope names, window bounds, test counts), built once.  The
        dict and its lists are shared: callers copy the dict and never change the lists."""
        if window_key not in self._fields:
            self._fields[window_key] = make()
        return self._fields[window_key]
