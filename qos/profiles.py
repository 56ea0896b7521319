"""Threshold profiles: the model and the TOML loader/validator (ARCHITECTURE.md §4).

A profile turns a Recommendation or a regulator's rule into data: a list of *objectives*,
each naming a metric from :data:`METRICS`, a statistic, a limit with its unit, the minimum
number of samples, and where the number comes from.  No code per profile.  Standard
library only, so the agent may read profiles too.

File layout (``configs/profiles/<name>.toml``)::

    schema_version = 1
    title = "..."
    [source]                      # mandatory: document, edition, clause, verified
    [defaults]                    # window, confidence, one_way_rule, failed_tests, decision
    [periods.<name>]              # local-time periods (peak hours), start/end/days
    [parameters.<name>]           # user-supplied values (contract speeds), dimension/value
    [campaign]                    # regulator campaign rules (BNetzA: 3 days × 10 tests ...)
    [[objectives]]                # either objectives ...
    [variants.<name>]             # ... or named variants, each with [[variants.<name>.objectives]]

A file without variants defines the profile ``<name>``; one with variants defines
``<name>/<variant>`` for every variant (``y1541/class0`` …).  Unknown keys fail with a
did-you-mean hint, unknown metrics/units/statistics are refused, and a file written for a
newer ``schema_version`` is refused (:class:`~qos.errors.ProfileError`).

``verified = true`` is allowed only where STANDARDS.md tags the value [P] or [D]
(STANDARDS.md §0.1); every shipped ITU/regulator value is [P*] or [S] today.
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import time
from fractions import Fraction
from pathlib import Path
from typing import Any

from qos.errors import ProfileError, UnitError
from qos.suggest import unknown_name_hint
from qos.units import parse_duration_s, parse_rate_bps, parse_ratio

PROFILE_SCHEMA_VERSION = 1

# --- the metric catalogue a profile may name -------------------------------------------------


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """What a profile metric measures, its dimension and which statistics make sense."""

    name: str
    dimension: str  # "duration" | "ratio" | "rate"
    source: str  # "probes" | "throughput" | "timing"
    comparison: str  # default for the limit: "<=" (smaller is better) or ">="
    statistics: tuple[str, ...]
    one_way: bool  # defined one-way (RTT data then needs a named rule)
    observable: bool = True  # False: the toolkit cannot measure it (verdict inconclusive)
    description: str = ""


_DELAY_STATS = ("mean", "median", "percentile", "max", "share")
_SPEED_STATS = ("mean", "median", "percentile", "share", "days_meeting", "days_not_meeting")

METRICS: dict[str, MetricSpec] = {
    m.name: m
    for m in (
        MetricSpec(
            "one_way_delay",
            "duration",
            "probes",
            "<=",
            _DELAY_STATS,
            True,
            description="one-way delay (Y.1540 IPTD, RFC 7679); RTT data needs a rule",
        ),
        MetricSpec(
            "rtt",
            "duration",
            "probes",
            "<=",
            _DELAY_STATS,
            False,
            description="round-trip delay (RFC 2681)",
        ),
        MetricSpec(
            "ipdv",
            "duration",
            "probes",
            "<=",
            ("pseudo_range",),
            True,
            description="Y.1541 IPDV pseudo-range: (1−10⁻³) quantile − minimum delay",
        ),
        MetricSpec(
            "pdv",
            "duration",
            "probes",
            "<=",
            ("percentile",),
            True,
            description="RFC 5481 PDV D(i) − D(min), at a percentile",
        ),
        MetricSpec(
            "jitter_rfc3550",
            "duration",
            "probes",
            "<=",
            ("mean", "max"),
            True,
            description="RFC 3550 §6.4.1 interarrival jitter per measurement",
        ),
        MetricSpec(
            "loss_ratio",
            "ratio",
            "probes",
            "<=",
            ("ratio",),
            True,
            description="packet loss ratio (Y.1540 IPLR, RFC 7680 / RFC 6673)",
        ),
        MetricSpec(
            "error_ratio",
            "ratio",
            "probes",
            "<=",
            ("ratio",),
            True,
            observable=False,
            description="Y.1540 IPER: errored packets are not recorded by the toolkit",
        ),
        MetricSpec(
            "download_speed",
            "rate",
            "throughput",
            ">=",
            _SPEED_STATS,
            False,
            description="transport-payload goodput per download test (BEREC)",
        ),
        MetricSpec(
            "upload_speed",
            "rate",
            "throughput",
            ">=",
            _SPEED_STATS,
            False,
            description="transport-payload goodput per upload test (BEREC)",
        ),
        MetricSpec(
            "transaction_time",
            "duration",
            "timing",
            "<=",
            _DELAY_STATS,
            False,
            description="total time of a timed transaction (web page, DNS lookup)",
        ),
    )
}

STATISTICS = (
    "mean",
    "median",
    "percentile",
    "max",
    "share",
    "pseudo_range",
    "ratio",
    "days_meeting",
    "days_not_meeting",
)
ONE_WAY_RULES = ("rtt-half", "refuse")
DECISIONS = ("confidence", "literal")
FAILED_TESTS = ("count", "exclude")
COMPARISONS = ("<=", ">=")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DIMENSIONS = ("duration", "rate", "ratio")

# --- model -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Source:
    """Where the numbers come from (STANDARDS.md section and the primary document)."""

    document: str
    edition: str
    clause: str
    verified: bool
    standards_ref: str = ""  # e.g. "STANDARDS.md §1.2"
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

    def resolve(self, parameters: Mapping[str, float | None]) -> float:
        if self.parameter is None:
            assert self.value is not None
            return self.value
        given = parameters.get(self.parameter)
        if given is None:
            raise ProfileError(
                f"parameter '{self.parameter}' has no value",
                key=f"parameters.{self.parameter}",
                hint=f"pass --param {self.parameter}=VALUE or set value in the profile",
            )
        return self.factor * given


@dataclass(frozen=True, slots=True)
class Campaign:
    """A regulator's measurement campaign (STANDARDS.md §8.2 BNetzA)."""

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
                values[name] = _parse_quantity(raw, self.parameters[name].dimension)
            except UnitError as exc:
                raise ProfileError(str(exc), file=self.path, key=f"parameters.{name}") from exc
        return values

    def with_parameters(self, overrides: Mapping[str, str | float]) -> Profile:
        values = self.parameter_values(overrides)
        params = {n: replace(p, value=values[n]) for n, p in self.parameters.items()}
        return replace(self, parameters=params)


# --- loading ---------------------------------------------------------------------------------

_TOP_KEYS = {
    "schema_version",
    "title",
    "description",
    "source",
    "defaults",
    "periods",
    "parameters",
    "campaign",
    "objectives",
    "variants",
}
_SOURCE_KEYS = {
    "document",
    "edition",
    "clause",
    "verified",
    "standards_ref",
    "secondary",
    "url",
    "notes",
}
_DEFAULT_KEYS = {"window", "confidence", "decision", "one_way_rule", "failed_tests"}
_PERIOD_KEYS = {"start", "end", "days"}
_PARAM_KEYS = {"dimension", "value", "description"}
_CAMPAIGN_KEYS = {
    "days",
    "tests_per_day",
    "min_test_spacing",
    "min_free_days_between",
    "max_span_days",
    "pause_after_test",
    "pause",
}
_VARIANT_KEYS = {"title", "description", "objectives", "defaults", "source"}
_OBJECTIVE_KEYS = {
    "id",
    "title",
    "metric",
    "statistic",
    "percentile",
    "threshold",
    "limit",
    "comparison",
    "min_samples",
    "clause",
    "verified",
    "window",
    "period",
    "confidence",
    "decision",
    "one_way_rule",
    "lost",
    "note",
}
_LIMIT_KEYS = {"parameter", "factor"}


class _Ctx:
    """File name for error messages."""

    def __init__(self, path: str) -> None:
        self.path = path

    def error(self, message: str, key: str | None = None, hint: str | None = None) -> ProfileError:
        return ProfileError(message, file=self.path, key=key, hint=hint)

    def check_keys(self, table: Mapping[str, Any], allowed: set[str], where: str) -> None:
        for key in table:
            if key not in allowed:
                name = f"{where}.{key}" if where else key
                raise self.error(
                    f"unknown key '{key}'", key=name, hint=unknown_name_hint(key, allowed)
                )

    def table(self, value: Any, key: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.error(f"must be a table, got {type(value).__name__}", key=key)
        return value

    def string(
        self,
        table: Mapping[str, Any],
        key: str,
        where: str,
        *,
        required: bool = True,
        default: str = "",
    ) -> str:
        if key not in table:
            if required:
                raise self.error("missing required key", key=_join(where, key))
            return default
        value = table[key]
        if not isinstance(value, str) or (required and not value.strip()):
            raise self.error("must be a non-empty string", key=_join(where, key))
        return value

    def boolean(
        self, table: Mapping[str, Any], key: str, where: str, *, default: bool | None = None
    ) -> bool:
        if key not in table:
            if default is None:
                raise self.error("missing required key (true or false)", key=_join(where, key))
            return default
        value = table[key]
        if not isinstance(value, bool):
            raise self.error(f"must be true or false, got {value!r}", key=_join(where, key))
        return value

    def choice(
        self,
        table: Mapping[str, Any],
        key: str,
        where: str,
        choices: Iterable[str],
        default: str | None,
    ) -> str | None:
        if key not in table:
            return default
        value = table[key]
        options = tuple(choices)
        if value not in options:
            raise self.error(
                f"invalid value {value!r}",
                key=_join(where, key),
                hint=unknown_name_hint(str(value), options),
            )
        return str(value)

    def integer(
        self,
        table: Mapping[str, Any],
        key: str,
        where: str,
        *,
        minimum: int = 0,
        required: bool = True,
        default: int | None = None,
    ) -> int | None:
        if key not in table:
            if required:
                raise self.error("missing required key", key=_join(where, key))
            return default
        value = table[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.error(
                f"must be an integer ≥ {minimum}, got {value!r}", key=_join(where, key)
            )
        return value

    def duration(self, value: Any, key: str) -> float:
        try:
            seconds = parse_duration_s(value)
        except UnitError as exc:
            raise self.error(str(exc), key=key) from exc
        return seconds


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _parse_quantity(value: Any, dimension: str) -> float:
    """A limit in base units for a dimension; units are required except for ratios/counts."""
    if dimension == "duration":
        return parse_duration_s(value)
    if dimension == "rate":
        return parse_rate_bps(value)
    if dimension == "ratio":
        return parse_ratio(value)
    if dimension == "count":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise UnitError(f"count must be a non-negative integer, got {value!r}")
        return float(value)
    raise UnitError(f"unknown dimension {dimension!r}")


def _parse_fraction(value: Any) -> Fraction:
    """``"99.9%"`` → 999/1000 exactly; ``0.95`` or ``"0.95"`` → 19/20 (STANDARDS.md §1.3)."""
    if isinstance(value, bool):
        raise ValueError("a boolean is not a percentile")
    if isinstance(value, str):
        text = value.strip()
        q = Fraction(text[:-1].strip()) / 100 if text.endswith("%") else Fraction(text)
    elif isinstance(value, float):
        q = Fraction(repr(value))
    elif isinstance(value, int):
        q = Fraction(value)
    else:
        raise ValueError(f"cannot read a percentile from {value!r}")
    if not 0 < q <= 1:
        raise ValueError(f"percentile must lie in (0, 100 %], got {value!r}")
    return q


def _parse_time(text: Any, key: str, ctx: _Ctx) -> int:
    if not isinstance(text, str):
        raise ctx.error("must be a time string 'HH:MM'", key=key)
    try:
        hours, minutes = (int(part) for part in text.split(":"))
    except ValueError:
        raise ctx.error(f"invalid time {text!r}, expected 'HH:MM'", key=key) from None
    if not (0 <= hours <= 24 and 0 <= minutes < 60) or (hours == 24 and minutes):
        raise ctx.error(f"invalid time {text!r}, expected 'HH:MM' between 00:00 and 24:00", key=key)
    return hours * 60 + minutes


def _load_source(raw: Any, ctx: _Ctx, key: str) -> Source:
    table = ctx.table(raw, key)
    ctx.check_keys(table, _SOURCE_KEYS, key)
    return Source(
        document=ctx.string(table, "document", key),
        edition=ctx.string(table, "edition", key),
        clause=ctx.string(table, "clause", key),
        verified=ctx.boolean(table, "verified", key),
        standards_ref=ctx.string(table, "standards_ref", key, required=False),
        secondary=ctx.string(table, "secondary", key, required=False),
        url=ctx.string(table, "url", key, required=False),
        notes=ctx.string(table, "notes", key, required=False),
    )


def _load_periods(raw: Any, ctx: _Ctx) -> dict[str, Period]:
    periods: dict[str, Period] = {}
    for name, value in ctx.table(raw, "periods").items():
        key = f"periods.{name}"
        table = ctx.table(value, key)
        ctx.check_keys(table, _PERIOD_KEYS, key)
        for required in ("start", "end"):
            if required not in table:
                raise ctx.error("missing required key", key=f"{key}.{required}")
        start = _parse_time(table["start"], f"{key}.start", ctx)
        if start >= 1440:
            raise ctx.error("start must be before 24:00", key=f"{key}.start")
        end = _parse_time(table["end"], f"{key}.end", ctx)
        days_raw = table.get("days", list(WEEKDAYS))
        if not isinstance(days_raw, list) or not days_raw:
            raise ctx.error("must be a non-empty list of weekdays", key=f"{key}.days")
        days = []
        for day in days_raw:
            if day not in WEEKDAYS:
                raise ctx.error(
                    f"unknown weekday {day!r}",
                    key=f"{key}.days",
                    hint=unknown_name_hint(str(day), WEEKDAYS),
                )
            days.append(WEEKDAYS.index(day))
        periods[name] = Period(name, time(start // 60, start % 60), end, tuple(sorted(days)))
    return periods


def _load_parameters(raw: Any, ctx: _Ctx) -> dict[str, Parameter]:
    params: dict[str, Parameter] = {}
    for name, value in ctx.table(raw, "parameters").items():
        key = f"parameters.{name}"
        table = ctx.table(value, key)
        ctx.check_keys(table, _PARAM_KEYS, key)
        dimension = ctx.choice(table, "dimension", key, DIMENSIONS, None)
        if dimension is None:
            raise ctx.error("missing required key", key=f"{key}.dimension")
        quantity = None
        if "value" in table:
            try:
                quantity = _parse_quantity(table["value"], dimension)
            except UnitError as exc:
                raise ctx.error(str(exc), key=f"{key}.value") from exc
        params[name] = Parameter(
            name, dimension, quantity, ctx.string(table, "description", key, required=False)
        )
    return params


def _load_campaign(raw: Any, ctx: _Ctx) -> Campaign:
    table = ctx.table(raw, "campaign")
    ctx.check_keys(table, _CAMPAIGN_KEYS, "campaign")
    days = ctx.integer(table, "days", "campaign", minimum=1)
    per_day = ctx.integer(table, "tests_per_day", "campaign", minimum=1)
    assert days is not None and per_day is not None
    return Campaign(
        days=days,
        tests_per_day=per_day,
        min_test_spacing_s=ctx.duration(
            table.get("min_test_spacing", "0s"), "campaign.min_test_spacing"
        ),
        min_free_days_between=ctx.integer(
            table, "min_free_days_between", "campaign", required=False, default=0
        )
        or 0,
        max_span_days=ctx.integer(table, "max_span_days", "campaign", minimum=1, required=False),
        pause_after_test=ctx.integer(
            table, "pause_after_test", "campaign", minimum=1, required=False
        ),
        pause_s=ctx.duration(table.get("pause", "0s"), "campaign.pause"),
    )


def _load_defaults(raw: Any, ctx: _Ctx, key: str, base: dict[str, Any]) -> dict[str, Any]:
    table = ctx.table(raw, key)
    ctx.check_keys(table, _DEFAULT_KEYS, key)
    out = dict(base)
    if "window" in table:
        out["window_s"] = _parse_window(table["window"], f"{key}.window", ctx)
    if "confidence" in table:
        out["confidence"] = _parse_confidence(table["confidence"], f"{key}.confidence", ctx)
    for name, choices in (
        ("decision", DECISIONS),
        ("one_way_rule", ONE_WAY_RULES),
        ("failed_tests", FAILED_TESTS),
    ):
        if name in table:
            out[name] = ctx.choice(table, name, key, choices, None)
    return out


def _parse_window(value: Any, key: str, ctx: _Ctx) -> float | None:
    if value == "all":
        return None
    seconds = ctx.duration(value, key)
    if seconds <= 0:
        raise ctx.error('window must be positive (or "all")', key=key)
    return seconds


def _parse_confidence(value: Any, key: str, ctx: _Ctx) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        raise ctx.error(
            f"confidence must be a number strictly between 0 and 1, got {value!r}", key=key
        )
    return float(value)


def _parse_limit(
    value: Any, dimension: str, key: str, ctx: _Ctx, params: Mapping[str, Parameter]
) -> Limit:
    if isinstance(value, Mapping):
        ctx.check_keys(value, _LIMIT_KEYS, key)
        name = value.get("parameter")
        if not isinstance(name, str):
            raise ctx.error("missing 'parameter' name", key=f"{key}.parameter")
        if name not in params:
            raise ctx.error(
                f"unknown parameter '{name}'",
                key=f"{key}.parameter",
                hint=unknown_name_hint(name, params),
            )
        if params[name].dimension != dimension:
            raise ctx.error(
                f"parameter '{name}' is a {params[name].dimension}, this limit needs a {dimension}",
                key=key,
            )
        factor = value.get("factor", 1.0)
        if (
            isinstance(factor, bool)
            or not isinstance(factor, int | float)
            or factor <= 0
            or not math.isfinite(factor)
        ):
            raise ctx.error(
                f"factor must be a positive number, got {factor!r}", key=f"{key}.factor"
            )
        return Limit(parameter=name, factor=float(factor), text=f"{factor:g} × {name}")
    try:
        quantity = _parse_quantity(value, dimension)
    except UnitError as exc:
        raise ctx.error(f"{exc} (this limit is a {dimension})", key=key) from exc
    return Limit(value=quantity, text=str(value))


def _load_objective(
    raw: Any,
    index: int,
    where: str,
    ctx: _Ctx,
    params: Mapping[str, Parameter],
    periods: Mapping[str, Period],
    default_clause: str,
    default_verified: bool,
) -> Objective:
    key = f"{where}[{index}]"
    table = ctx.table(raw, key)
    ctx.check_keys(table, _OBJECTIVE_KEYS, key)
    oid = ctx.string(table, "id", key)
    key = f"{where}.{oid}"
    metric = ctx.string(table, "metric", key)
    if metric not in METRICS:
        raise ctx.error(
            f"unknown metric '{metric}'",
            key=f"{key}.metric",
            hint=unknown_name_hint(metric, METRICS),
        )
    spec = METRICS[metric]
    statistic = ctx.string(
        table,
        "statistic",
        key,
        required=False,
        default=spec.statistics[0] if len(spec.statistics) == 1 else "",
    )
    if not statistic:
        raise ctx.error(
            "missing required key",
            key=f"{key}.statistic",
            hint=f"one of: {', '.join(spec.statistics)}",
        )
    if statistic not in STATISTICS:
        raise ctx.error(
            f"unknown statistic '{statistic}'",
            key=f"{key}.statistic",
            hint=unknown_name_hint(statistic, STATISTICS),
        )
    if statistic not in spec.statistics:
        raise ctx.error(
            f"statistic '{statistic}' is not defined for metric '{metric}'",
            key=f"{key}.statistic",
            hint=f"one of: {', '.join(spec.statistics)}",
        )
    percentile = None
    if statistic == "percentile":
        if "percentile" not in table:
            raise ctx.error(
                "statistic 'percentile' needs a 'percentile' such as \"95%\"",
                key=f"{key}.percentile",
            )
        try:
            percentile = _parse_fraction(table["percentile"])
        except (ValueError, ZeroDivisionError) as exc:
            raise ctx.error(str(exc), key=f"{key}.percentile") from None
    elif statistic == "pseudo_range":
        percentile = Fraction(999, 1000)  # Y.1541: (1 − 10⁻³) quantile − minimum
    elif "percentile" in table:
        raise ctx.error(
            f"'percentile' only applies to statistic 'percentile', not '{statistic}'",
            key=f"{key}.percentile",
        )

    threshold = None
    threshold_comparison = None
    if statistic in ("share", "days_meeting", "days_not_meeting"):
        if "threshold" not in table:
            raise ctx.error(
                f"statistic '{statistic}' needs a per-sample 'threshold'", key=f"{key}.threshold"
            )
        threshold = _parse_limit(
            table["threshold"], spec.dimension, f"{key}.threshold", ctx, params
        )
        threshold_comparison = spec.comparison
    elif "threshold" in table:
        raise ctx.error(
            f"'threshold' only applies to share/day statistics, not '{statistic}'",
            key=f"{key}.threshold",
        )

    if statistic == "share":
        limit_dimension, default_cmp = "ratio", ">="
    elif statistic == "days_meeting":
        limit_dimension, default_cmp = "count", ">="
    elif statistic == "days_not_meeting":
        limit_dimension, default_cmp = "count", "<="
    else:
        limit_dimension, default_cmp = spec.dimension, spec.comparison
    if "limit" not in table:
        raise ctx.error("missing required key", key=f"{key}.limit")
    limit = _parse_limit(table["limit"], limit_dimension, f"{key}.limit", ctx, params)
    comparison = ctx.choice(table, "comparison", key, COMPARISONS, default_cmp)
    assert comparison is not None

    min_samples = ctx.integer(table, "min_samples", key, minimum=1)
    assert min_samples is not None
    window_s = None
    window_all = False
    if "window" in table:
        window_s = _parse_window(table["window"], f"{key}.window", ctx)
        window_all = window_s is None
    period = None
    if "period" in table:
        period = table["period"]
        if period not in periods:
            raise ctx.error(
                f"unknown period '{period}'",
                key=f"{key}.period",
                hint=unknown_name_hint(str(period), periods),
            )
    confidence = None
    if "confidence" in table:
        confidence = _parse_confidence(table["confidence"], f"{key}.confidence", ctx)
    lost = ctx.choice(table, "lost", key, ("exclude", "infinite"), "exclude")
    assert lost is not None
    return Objective(
        id=oid,
        metric=metric,
        statistic=statistic,
        limit=limit,
        comparison=comparison,
        min_samples=min_samples,
        clause=ctx.string(table, "clause", key, required=False, default=default_clause),
        verified=ctx.boolean(table, "verified", key, default=default_verified),
        percentile=percentile,
        threshold=threshold,
        threshold_comparison=threshold_comparison,
        window_s=window_s,
        window_all=window_all,
        period=period,
        confidence=confidence,
        decision=ctx.choice(table, "decision", key, DECISIONS, None),
        one_way_rule=ctx.choice(table, "one_way_rule", key, ONE_WAY_RULES, None),
        lost=lost,
        title=ctx.string(table, "title", key, required=False),
        note=ctx.string(table, "note", key, required=False),
    )


def _load_objectives(
    raw: Any,
    where: str,
    ctx: _Ctx,
    params: Mapping[str, Parameter],
    periods: Mapping[str, Period],
    source: Source,
) -> tuple[Objective, ...]:
    if not isinstance(raw, list):
        raise ctx.error(
            "must be an array of tables [[objectives]] (use [] when the source "
            "specifies no objective)",
            key=where,
        )
    objectives = []
    seen: set[str] = set()
    for index, item in enumerate(raw):
        objective = _load_objective(
            item, index, where, ctx, params, periods, source.clause, source.verified
        )
        if objective.id in seen:
            raise ctx.error(f"duplicate objective id '{objective.id}'", key=where)
        seen.add(objective.id)
        objectives.append(objective)
    return tuple(objectives)


def parse_profiles(data: Mapping[str, Any], *, name: str, path: str = "") -> dict[str, Profile]:
    """Validate a parsed TOML document; returns ``{profile id: Profile}``."""
    ctx = _Ctx(path or name)
    if "schema_version" not in data:
        raise ctx.error(
            "missing required key",
            key="schema_version",
            hint=f"add 'schema_version = {PROFILE_SCHEMA_VERSION}'",
        )
    version = data["schema_version"]
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ctx.error(f"must be a positive integer, got {version!r}", key="schema_version")
    if version > PROFILE_SCHEMA_VERSION:
        raise ctx.error(
            f"profile schema_version {version} is newer than this qos-toolkit supports "
            f"({PROFILE_SCHEMA_VERSION})",
            key="schema_version",
            hint="upgrade qos-toolkit to use this profile",
        )
    ctx.check_keys(data, _TOP_KEYS, "")
    if "source" not in data:
        raise ctx.error(
            "missing required table [source] (document, edition, clause, verified)", key="source"
        )
    source = _load_source(data["source"], ctx, "source")
    periods = _load_periods(data.get("periods", {}), ctx)
    params = _load_parameters(data.get("parameters", {}), ctx)
    campaign = _load_campaign(data["campaign"], ctx) if "campaign" in data else None
    defaults = _load_defaults(data.get("defaults", {}), ctx, "defaults", {"window_s": None})
    title = ctx.string(data, "title", "")
    description = ctx.string(data, "description", "", required=False)
    common = {
        "periods": periods,
        "parameters": params,
        "campaign": campaign,
        "path": path,
        "schema_version": version,
    }

    has_obj, has_var = "objectives" in data, "variants" in data
    if has_obj == has_var:
        raise ctx.error(
            "a profile has both [[objectives]] and [variants.<name>]; keep one"
            if has_obj
            else "a profile needs [[objectives]] or [variants.<name>] with objectives",
            key="objectives",
        )
    if has_obj:
        objectives = _load_objectives(
            data["objectives"], "objectives", ctx, params, periods, source
        )
        return {
            name: Profile(
                id=name,
                title=title,
                source=source,
                objectives=objectives,
                description=description,
                **defaults,
                **common,
            )
        }
    profiles: dict[str, Profile] = {}
    variants = ctx.table(data["variants"], "variants")
    if not variants:
        raise ctx.error("no variants defined", key="variants")
    for vname, raw in variants.items():
        key = f"variants.{vname}"
        table = ctx.table(raw, key)
        ctx.check_keys(table, _VARIANT_KEYS, key)
        vsource = (
            _load_source(table["source"], ctx, f"{key}.source") if "source" in table else source
        )
        vdefaults = _load_defaults(table.get("defaults", {}), ctx, f"{key}.defaults", defaults)
        if "objectives" not in table:
            raise ctx.error("missing required key", key=f"{key}.objectives")
        objectives = _load_objectives(
            table["objectives"], f"{key}.objectives", ctx, params, periods, vsource
        )
        vtitle = ctx.string(table, "title", key, required=False, default=f"{title} — {vname}")
        profiles[f"{name}/{vname}"] = Profile(
            id=f"{name}/{vname}",
            title=vtitle,
            source=vsource,
            objectives=objectives,
            description=ctx.string(table, "description", key, required=False, default=description),
            **vdefaults,
            **common,
        )
    return profiles


def load_profile_file(path: str | Path) -> dict[str, Profile]:
    """Read and validate one profile file; errors name the file, the key and a fix."""
    file = Path(path)
    try:
        with file.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ProfileError("no such profile file", file=str(file)) from None
    except OSError as exc:
        raise ProfileError(f"cannot read profile: {exc.strerror}", file=str(file)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"not valid TOML: {exc}", file=str(file)) from None
    name = file.name.removesuffix(".toml")
    return parse_profiles(data, name=name, path=str(file))


def profile_dirs(environ: Mapping[str, str] | None = None) -> list[Path]:
    """Where shipped and user profiles live, first match wins.

    ``$QOS_PROFILE_PATH`` (``os.pathsep``-separated), the user's data directory
    (``…/qos-toolkit/profiles``), profiles packaged as ``qos/data/profiles`` and, in a source
    checkout, ``configs/profiles``.
    """
    from qos.paths import data_dir

    env = os.environ if environ is None else environ
    dirs = [Path(p) for p in env.get("QOS_PROFILE_PATH", "").split(os.pathsep) if p]
    dirs.append(data_dir(env) / "profiles")
    here = Path(__file__).resolve().parent
    dirs.append(here / "data" / "profiles")
    dirs.append(here.parent / "configs" / "profiles")
    return [d for d in dirs if d.is_dir()]


def available_profiles(dirs: Iterable[Path] | None = None) -> dict[str, Profile]:
    """Every profile id found in the profile directories (earlier directories win)."""
    found: dict[str, Profile] = {}
    for directory in profile_dirs() if dirs is None else dirs:
        for file in sorted(Path(directory).glob("*.toml")):
            for pid, profile in load_profile_file(file).items():
                found.setdefault(pid, profile)
    return found


def get_profile(ref: str | Path, *, dirs: Iterable[Path] | None = None) -> Profile:
    """A profile by id (``y1541/class0``), by file path, or ``path.toml#variant``."""
    text = str(ref)
    file_part, _, variant = text.partition("#")
    candidate = Path(file_part)
    if file_part.endswith(".toml") or candidate.is_file():
        profiles = load_profile_file(candidate)
        if variant:
            key = f"{candidate.name.removesuffix('.toml')}/{variant}"
            if key not in profiles:
                raise ProfileError(
                    f"no variant '{variant}'",
                    file=str(candidate),
                    hint=unknown_name_hint(key, profiles),
                )
            return profiles[key]
        if len(profiles) == 1:
            return next(iter(profiles.values()))
        raise ProfileError(
            "file defines several profiles; choose one with '#variant'",
            file=str(candidate),
            hint=", ".join(sorted(profiles)),
        )
    catalogue = available_profiles(dirs)
    if text not in catalogue:
        raise ProfileError(f"unknown profile '{text}'", hint=unknown_name_hint(text, catalogue))
    return catalogue[text]
