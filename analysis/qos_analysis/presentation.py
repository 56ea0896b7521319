"""How verdict quantities and data strings are shown to people: one place for units and
for neutralising strings that come from data or configuration.

Values inside the toolkit are in base units (seconds, bit/s, ratios 0…1); people read
milliseconds, Mbit/s and percent.  The verdict table, the verdict reasons and the reports
all format through :func:`format_quantity`, so a reason never speaks in other units than
the table it explains.  Strings from data go through :func:`qos.text_safety.neutralize`
(re-exported here) before they reach a terminal.
"""

from __future__ import annotations

import math
from typing import Any

from qos.text_safety import TRUNCATION_MARKER, neutralize

__all__ = [
    "TRUNCATION_MARKER",
    "comparison_symbol",
    "format_interval",
    "format_limit",
    "format_quantity",
    "neutralize",
    "short_ids",
]


def format_quantity(value: Any, unit: str) -> str:
    """A verdict quantity in the unit people read: ms, Mbit/s, percent, days.

    ``None``/NaN show as "—"; infinities as "∞" / "−∞".
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    number = float(value)
    if math.isnan(number):
        return "—"
    if math.isinf(number):
        return "∞" if number > 0 else "−∞"
    if unit in ("s", "duration"):
        return f"{number * 1e3:.3f} ms"
    if unit == "ratio":
        return f"{number * 100:.4g} %"
    if unit in ("bit/s", "rate"):
        return f"{number / 1e6:.2f} Mbit/s"
    return f"{number:g}"


def comparison_symbol(comparison: str) -> str:
    """``"<="`` → "≤", ``">="`` → "≥"."""
    return {"<=": "≤", ">=": "≥"}.get(comparison, comparison)


def format_limit(comparison: str, limit: Any, unit: str) -> str:
    """``"≤ 100.000 ms"``."""
    return f"{comparison_symbol(comparison)} {format_quantity(limit, unit)}"


def format_interval(low: Any, high: Any, unit: str) -> str:
    """``"[0 %, 1.487 %]"``."""
    return f"[{format_quantity(low, unit)}, {format_quantity(high, unit)}]"


def short_ids(ids: list[str], minimum: int = 8) -> dict[str, str]:
    """The shortest prefix (≥ ``minimum`` characters) that still tells every id apart.

    Agent ids are 32 hex digits; a table shows e.g. ``80eaa2a3`` and the JSON/CSV output
    keeps the full id.
    """
    unique = sorted(set(ids))
    length = minimum
    while length < max((len(i) for i in unique), default=0):
        if len({i[:length] for i in unique}) == len(unique):
            break
        length += 1
    return {i: i[:length] for i in unique}
