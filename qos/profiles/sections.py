"""Loaders for a profile file's tables: [source], [periods], [parameters], [campaign],
[defaults] (docs/architecture.md §4)."""

from __future__ import annotations

from datetime import time
from typing import Any

from qos.errors import UnitError
from qos.profiles.catalogue import DECISIONS, DIMENSIONS, FAILED_TESTS, ONE_WAY_RULES, WEEKDAYS
from qos.profiles.model import Campaign, Parameter, Period, Source
from qos.profiles.quantities import parse_quantity
from qos.profiles.reader import Ctx
from qos.suggest import unknown_name_hint

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


def _parse_time(text: Any, key: str, ctx: Ctx) -> int:
    if not isinstance(text, str):
        raise ctx.error("must be a time string 'HH:MM'", key=key)
    try:
        hours, minutes = (int(part) for part in text.split(":"))
    except ValueError:
        raise ctx.error(f"invalid time {text!r}, expected 'HH:MM'", key=key) from None
    if not (0 <= hours <= 24 and 0 <= minutes < 60) or (hours == 24 and minutes):
        raise ctx.error(f"invalid time {text!r}, expected 'HH:MM' between 00:00 and 24:00", key=key)
    return hours * 60 + minutes


def load_source(raw: Any, ctx: Ctx, key: str) -> Source:
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


def load_periods(raw: Any, ctx: Ctx) -> dict[str, Period]:
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


def load_parameters(raw: Any, ctx: Ctx) -> dict[str, Parameter]:
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
                quantity = parse_quantity(table["value"], dimension)
            except UnitError as exc:
                raise ctx.error(str(exc), key=f"{key}.value") from exc
        params[name] = Parameter(
            name, dimension, quantity, ctx.string(table, "description", key, required=False)
        )
    return params


def load_campaign(raw: Any, ctx: Ctx) -> Campaign:
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


def load_defaults(raw: Any, ctx: Ctx, key: str, base: dict[str, Any]) -> dict[str, Any]:
    table = ctx.table(raw, key)
    ctx.check_keys(table, _DEFAULT_KEYS, key)
    out = dict(base)
    if "window" in table:
        out["window_s"] = parse_window(table["window"], f"{key}.window", ctx)
    if "confidence" in table:
        out["confidence"] = parse_confidence(table["confidence"], f"{key}.confidence", ctx)
    for name, choices in (
        ("decision", DECISIONS),
        ("one_way_rule", ONE_WAY_RULES),
        ("failed_tests", FAILED_TESTS),
    ):
        if name in table:
            out[name] = ctx.choice(table, name, key, choices, None)
    return out


def parse_window(value: Any, key: str, ctx: Ctx) -> float | None:
    if value == "all":
        return None
    seconds = ctx.duration(value, key)
    if seconds <= 0:
        raise ctx.error('window must be positive (or "all")', key=key)
    return seconds


def parse_confidence(value: Any, key: str, ctx: Ctx) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        raise ctx.error(
            f"confidence must be a number strictly between 0 and 1, got {value!r}", key=key
        )
    return float(value)
