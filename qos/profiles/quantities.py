"""Quantities written in profiles, parsed into base units (docs/methods.md §1.3)."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from qos.errors import UnitError
from qos.units import (
    parse_duration_exact,
    parse_rate_exact,
    parse_ratio_exact,
)


def parse_quantity_exact(value: Any, dimension: str) -> Fraction:
    """A limit in base units for a dimension, as the exact rational number written.

    Units are required except for ratios and counts.  ``"95%"`` is 19/20 exactly, so a
    share k/n can be compared with it in integer arithmetic.
    """
    if dimension == "duration":
        return parse_duration_exact(value)
    if dimension == "rate":
        return parse_rate_exact(value)
    if dimension == "ratio":
        return parse_ratio_exact(value)
    if dimension == "count":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise UnitError(f"count must be a non-negative integer, got {value!r}")
        return Fraction(value)
    raise UnitError(f"unknown dimension {dimension!r}")


def parse_quantity(value: Any, dimension: str) -> float:
    """A limit in base units: the double nearest to :func:`parse_quantity_exact`."""
    return float(parse_quantity_exact(value, dimension))


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
