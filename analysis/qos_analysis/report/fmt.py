"""Number formatting shared by the renderers and the model's small tables."""

from __future__ import annotations

from qos_analysis.presentation import comparison_symbol, format_quantity


def number(value: float | None, unit: str) -> str:
    """A value in base units as a reader expects it: ms, %, Mbit/s, days
    (:func:`qos_analysis.presentation.format_quantity`, the table's own formatting)."""
    text = format_quantity(value, unit)
    if unit == "days" and text not in ("—", "∞", "−∞"):
        return f"{text} day(s)"
    return text


def comparison(op: str) -> str:
    return comparison_symbol(op)


def interval(low: float | None, high: float | None, unit: str) -> str:
    if low is None and high is None:
        return "—"
    return f"[{number(low, unit)}, {number(high, unit)}]"


def count(value: int) -> str:
    return f"{value:,}"
