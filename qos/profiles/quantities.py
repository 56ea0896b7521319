"""Quantities written in profiles, parsed into base units (docs/methods.md §1.3)."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from qos.errors import UnitError
from qos.units import parse_duration_s, parse_rate_bps, parse_ratio


def parse_quantity(value: Any, dimension: str) -> float:
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


def parse_fraction(value: Any) -> Fraction:
    """``"99.9%"`` → 999/1000 exactly; ``0.95`` or ``"0.95"`` → 19/20 (docs/methods.md §1.3)."""
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
