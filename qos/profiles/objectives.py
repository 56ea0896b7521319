"""Loader for [[objectives]]: metric, statistic, limit, threshold and per-objective options."""

from __future__ import annotations

import math
from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from qos.errors import UnitError
from qos.profiles.catalogue import COMPARISONS, DECISIONS, METRICS, ONE_WAY_RULES, STATISTICS
from qos.profiles.model import Limit, Objective, Parameter, Period, Source
from qos.profiles.quantities import parse_fraction, parse_quantity_exact
from qos.profiles.reader import Ctx
from qos.profiles.sections import parse_confidence, parse_window
from qos.suggest import unknown_name_hint

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


def _parse_limit(
    value: Any, dimension: str, key: str, ctx: Ctx, params: Mapping[str, Parameter]
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
        factor_exact = Fraction(repr(factor)) if isinstance(factor, float) else Fraction(factor)
        return Limit(
            parameter=name,
            factor=float(factor),
            text=f"{factor:g} × {name}",
            factor_exact=factor_exact,
        )
    try:
        exact = parse_quantity_exact(value, dimension)
    except UnitError as exc:
        raise ctx.error(f"{exc} (this limit is a {dimension})", key=key) from exc
    return Limit(value=float(exact), text=str(value), exact=exact)


def _load_objective(
    raw: Any,
    index: int,
    where: str,
    ctx: Ctx,
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
            percentile = parse_fraction(table["percentile"])
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
        window_s = parse_window(table["window"], f"{key}.window", ctx)
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
        confidence = parse_confidence(table["confidence"], f"{key}.confidence", ctx)
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


def load_objectives(
    raw: Any,
    where: str,
    ctx: Ctx,
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
