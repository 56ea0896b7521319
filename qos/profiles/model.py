"""The profile model: frozen dataclasses for a resolved profile and its objectives."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import time
from fractions import Fraction
from typing import TYPE_CHECKING

from qos.errors import ProfileError, UnitError
from qos.profiles.catalogue import METRICS, PROFILE_SCHEMA_VERSION, MetricSpec
from qos.profiles.quantities import parse_quantity
from qos.suggest import unknown_name_hint

if TYPE_CHECKING:
    from qos.profiles.tariff import Tariff


@dataclass(frozen=True, slots=True)
class Source:
    """Where the numbers come from (the primary document and its docs/methods.md section)."""

    document: str
    edition: str
    clause: str
    verified: bool
    standards_ref: str = ""  # e.g. "docs/methods.md §1.2"
    secondary: str = ""
    url: str = ""
    notes: str = ""


@dataclass(frozen=True, slots=True)
class Period:
    """A local-time period, e.g. FCC peak hours 19:00–23:00 on weeknights.

    ``end`` ≤ ``start`` wraps past midnight; ``end = "24:00"`` means midnight.
    """

    name: str
    start: time
    end_minutes: int  # minutes after midnight, 1440 for "24:00"
    days: tuple[int, ...]  # Monday = 0

    def contains(self, weekday: int, minute_of_day: int) -> bool:
        start = self.start.hour * 60 + self.start.minute
        if start < self.end_minutes:
            return weekday in self.days and start <= minute_of_day < self.end_minutes
        # Wraps midnight: the part after midnight belongs to the period that began the day before.
        if minute_of_day >= start:
            return weekday in self.days
        if minute_of_day < self.end_minutes:
            return (weekday - 1) % 7 in self.days
        return False


@dataclass(frozen=True, slots=True)
class Parameter:
    """A value the user supplies (contracted speeds); ``value`` None means still required."""

    name: str
    dimension: str
    value: float | None
    description: str = ""


@dataclass(frozen=True, slots=True)
class Limit:
    """A fixed quantity (base units) or ``factor × parameter``."""

    value: float | None = None
    parameter: str | None = None
    factor: float = 1.0
    text: str = ""
    exact: Fraction | None = None
    factor_exact: Fraction = Fraction(1)

    def resolve(self, parameters: Mapping[str, float | None]) -> float:
        """The limit as the double nearest to its exact value (rounded once)."""
        if self.parameter is None and self.exact is None:
            assert self.value is not None
            return self.value
        return float(self.resolve_exact(parameters))

    def resolve_exact(self, parameters: Mapping[str, float | None]) -> Fraction:
        """The limit as an exact rational: the decimal written in the profile, or
        ``factor × parameter`` computed without rounding (0.9 × 250 Mbit/s is exactly
        225 Mbit/s, not 225000000.00000003)."""
        if self.parameter is None:
            if self.exact is not None:
                return self.exact
            assert self.value is not None
            return Fraction(self.value)
        given = parameters.get(self.parameter)
        if given is None:
            raise ProfileError(
                f"parameter '{self.parameter}' has no value",
                key=f"parameters.{self.parameter}",
                hint=f"pass --param {self.parameter}=VALUE or set value in the profile",
            )
        return self.factor_exact * Fraction(given)


@dataclass(frozen=True, slots=True)
class Campaign:
    """A regulator's measurement campaign (docs/methods.md §8.2 BNetzA)."""

    days: int
    tests_per_day: int
    min_test_spacing_s: float = 0.0
    min_free_days_between: int = 0
    max_span_days: int | None = None
    pause_after_test: int | None = None  # BNetzA: a pause after the 5th test of a day ...
    pause_s: float = 0.0  # ... of at least 3 h


@dataclass(frozen=True, slots=True)
class Objective:
    """One objective: ``statistic(metric) comparison limit`` with its provenance."""

    id: str
    metric: str
    statistic: str
    limit: Limit
    comparison: str
    min_samples: int
    clause: str
    verified: bool
    percentile: Fraction | None = None
    threshold: Limit | None = None
    threshold_comparison: str | None = None
    window_s: float | None = None  # None → profile default
    window_all: bool = False
    period: str | None = None
    confidence: float | None = None
    decision: str | None = None
    one_way_rule: str | None = None
    lost: str = "exclude"  # delay statistics: "exclude" lost packets or treat as +inf
    title: str = ""
    note: str = ""

    @property
    def spec(self) -> MetricSpec:
        return METRICS[self.metric]


@dataclass(frozen=True, slots=True)
class Profile:
    """A resolved profile: one id, its objectives and the settings they share."""

    id: str
    title: str
    source: Source
    objectives: tuple[Objective, ...]
    window_s: float | None  # None = the whole data set ("all")
    confidence: float = 0.95
    decision: str = "confidence"
    one_way_rule: str = "rtt-half"
    failed_tests: str = "count"
    periods: Mapping[str, Period] = field(default_factory=dict)
    parameters: Mapping[str, Parameter] = field(default_factory=dict)
    campaign: Campaign | None = None
    tariff: Tariff | None = None  # price and data allowance (contract profiles)
    path: str = ""
    schema_version: int = PROFILE_SCHEMA_VERSION
    description: str = ""

    @property
    def verified(self) -> bool:
        return self.source.verified and all(o.verified for o in self.objectives)

    def parameter_values(
        self, overrides: Mapping[str, str | float] | None = None
    ) -> dict[str, float | None]:
        """Parameter values with ``overrides`` (strings with units, e.g. ``"100Mbit/s"``)."""
        values: dict[str, float | None] = {n: p.value for n, p in self.parameters.items()}
        for name, raw in (overrides or {}).items():
            if name not in self.parameters:
                raise ProfileError(
                    f"unknown parameter '{name}'",
                    file=self.path,
                    key=f"parameters.{name}",
                    hint=unknown_name_hint(name, self.parameters),
                )
            try:
                values[name] = parse_quantity(raw, self.parameters[name].dimension)
            except UnitError as exc:
                raise ProfileError(str(exc), file=self.path, key=f"parameters.{name}") from exc
        return values

    def with_parameters(self, overrides: Mapping[str, str | float]) -> Profile:
        values = self.parameter_values(overrides)
        params = {n: replace(p, value=values[n]) for n, p in self.parameters.items()}
        return replace(self, parameters=params)
