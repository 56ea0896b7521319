"""Number formatting shared by the renderers and the model's small tables."""

from __future__ import annotations

import math

_SYMBOLS = {"<=": "≤", ">=": "≥"}


def number(value: float | None, unit: str) -> str:
    """A value in base units as a reader expects it: ms, %, Mbit/s, days."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    value = float(value)
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    if unit in ("s", "duration"):
        return f"{value * 1e3:.3f} ms"
    if unit == "ratio":
        return f"{value * 100:.4g} %"
    if unit in ("bit/s", "rate"):
        return f"{value / 1e6:.2f} Mbit/s"
    if unit == "days":
        return f"{value:g} day(s)"
    return f"{value:g}"


def comparison(op: str) -> str:
    return _SYMBOLS.get(op, op)


def interval(low: float | None, high: float | None, unit: str) -> str:
    if low is None and high is None:
        return "—"
    return f"[{number(low, unit)}, {number(high, unit)}]"


def count(value: int) -> str:
    return f"{value:,}"
