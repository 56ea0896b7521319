"""Units: base units inside, human units only at the edge (docs/architecture.md §3).

Inside the toolkit every quantity is a float in a base unit and the unit is part of the
name: seconds (``_s``), bytes (``_bytes``), bits per second (``_bps``) and plain ratios
(``_ratio``, 0…1).  This module parses what people write in configuration files and
profiles (``"250ms"``, ``"5min"``, ``"100Mbit/s"``, ``"1.5GB"``, ``"0.1%"``) and formats
numbers for display.  Decimal SI prefixes are used for rates and sizes (1 Mbit/s =
10⁶ bit/s, as BEREC and RFC 9097 report); binary prefixes (KiB, MiB, GiB) are accepted
explicitly.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

from qos.errors import UnitError

if TYPE_CHECKING:  # fractions imports decimal: loaded only where an exact value is asked for
    from fractions import Fraction

#: an exact rational number as integers (numerator, denominator > 0)
Exact = tuple[int, int]

_DURATION_FACTORS_S: dict[str, Exact] = {
    "ns": (1, 10**9),
    "us": (1, 10**6),
    "µs": (1, 10**6),
    "ms": (1, 10**3),
    "s": (1, 1),
    "sec": (1, 1),
    "secs": (1, 1),
    "second": (1, 1),
    "seconds": (1, 1),
    "m": (60, 1),
    "min": (60, 1),
    "mins": (60, 1),
    "minute": (60, 1),
    "minutes": (60, 1),
    "h": (3600, 1),
    "hour": (3600, 1),
    "hours": (3600, 1),
    "d": (86400, 1),
    "day": (86400, 1),
    "days": (86400, 1),
}

_SIZE_FACTORS_BYTES: dict[str, Exact] = {
    "b": (1, 1),  # lower-case b alone is ambiguous; sizes use B, we accept "b" only as bytes
    "B": (1, 1),
    "byte": (1, 1),
    "bytes": (1, 1),
    "kB": (10**3, 1),
    "KB": (10**3, 1),
    "MB": (10**6, 1),
    "GB": (10**9, 1),
    "TB": (10**12, 1),
    "KiB": (2**10, 1),
    "MiB": (2**20, 1),
    "GiB": (2**30, 1),
    "TiB": (2**40, 1),
}

_RATE_FACTORS_BPS: dict[str, Exact] = {
    "bit/s": (1, 1),
    "bps": (1, 1),
    "kbit/s": (10**3, 1),
    "kbps": (10**3, 1),
    "Kbit/s": (10**3, 1),
    "Kbps": (10**3, 1),
    "Mbit/s": (10**6, 1),
    "Mbps": (10**6, 1),
    "Gbit/s": (10**9, 1),
    "Gbps": (10**9, 1),
    "Tbit/s": (10**12, 1),
    "B/s": (8, 1),
    "kB/s": (8 * 10**3, 1),
    "MB/s": (8 * 10**6, 1),
    "GB/s": (8 * 10**9, 1),
}

_RATIO_FACTORS: dict[str, Exact] = {
    "": (1, 1),
    "%": (1, 100),
    "percent": (1, 100),
    "ppm": (1, 10**6),
}

# ASCII digits only: int() would accept "١٢" or "１２" as 12.
_NUMBER = r"([-+]?)(\d*)(?:\.(\d*))?(?:[eE]([-+]?\d+))?"
_QUANTITY = re.compile(r"^\s*(" + _NUMBER + r")\s*([^\d\s].*?)?\s*$", re.ASCII)
_DECIMAL = re.compile(r"^" + _NUMBER + r"$", re.ASCII)
# Far beyond any physical quantity: refuses "1e999999" before exact arithmetic on it.
_MAX_EXPONENT = 400


def _exact_decimal(
    sign: str, whole: str, fraction: str, exponent: str, text: str, what: str
) -> Exact:
    """The exact value of a decimal numeral given by its parts (sign, digits before and
    after the point, exponent), e.g. ``"1.25e-3"`` → (125, 100000)."""
    if not (whole or fraction):
        raise UnitError(f"cannot parse {what} {text!r}: expected a number followed by a unit")
    try:
        digits = int((whole or "0") + fraction)
        power = int(exponent or "0") - len(fraction)
    except ValueError as exc:  # more digits than int() converts
        raise UnitError(f"cannot parse {what} {text!r}: too many digits") from exc
    if digits and abs(power + len(str(digits)) - 1) > _MAX_EXPONENT:
        raise UnitError(f"{what} {text!r} is not finite")
    if sign == "-":
        digits = -digits
    return (digits * 10**power, 1) if power >= 0 else (digits, 10**-power)


def _split(text: str, what: str) -> tuple[Exact, str]:
    match = _QUANTITY.match(text)
    if not match:
        raise UnitError(f"cannot parse {what} {text!r}: expected a number followed by a unit")
    sign, whole, fraction, exponent, unit = match.group(2, 3, 4, 5, 6)
    number = _exact_decimal(sign, whole, fraction or "", exponent or "", text, what)
    return number, (unit or "").strip()


def _exact_float(value: float, what: str) -> Exact:
    """A float written in TOML/JSON denotes its shortest decimal repr (``0.95``)."""
    text = repr(value)
    match = _DECIMAL.match(text)
    if not match:  # pragma: no cover - repr of a finite float is always a decimal numeral
        raise UnitError(f"cannot parse {what} {value!r}")
    sign, whole, fraction, exponent = match.groups()
    return _exact_decimal(sign, whole, fraction or "", exponent or "", text, what)


_EXAMPLES = {"duration": "250ms", "size": "50MB", "rate": "2Mbit/s"}


def _parse_exact(
    value: str | int | float, factors: dict[str, Exact], what: str, default_unit: str | None
) -> Exact:
    """The exact rational value of a quantity in base units.

    A decimal written in text ("95%", "0.1ms") is taken as the exact decimal it denotes,
    and multiplied by the unit's exact factor, so that the one rounding to a double happens
    at the very end (:func:`_parse`): "95%" becomes the double nearest to 19/20, not
    95 × 0.01 computed in floating point (0.9500000000000001).
    """
    if isinstance(value, bool):
        raise UnitError(f"{what} must be a number with a unit, not a boolean")
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise UnitError(f"{what} {value!r} is not finite")
        if default_unit is None:
            raise UnitError(f"{what} {value!r} needs a unit, e.g. {next(iter(factors))!r}")
        number = _exact_float(value, what) if isinstance(value, float) else (value, 1)
        unit = default_unit
    elif isinstance(value, str):
        number, unit = _split(value, what)
        if not unit:
            if default_unit is None:
                raise UnitError(f"{what} {value!r} needs a unit")
            unit = default_unit
    else:
        example = _EXAMPLES.get(what, "250ms")
        kind = "a table" if isinstance(value, dict) else f"a {type(value).__name__}"
        if isinstance(value, list):
            kind = "an array"
        raise UnitError(f"{what} must be a string such as {example!r}, got {kind}")
    if unit not in factors:
        known = ", ".join(sorted(k for k in factors if k))
        raise UnitError(f"unknown unit {unit!r} in {what} {value!r}; known units: {known}")
    numerator, denominator = factors[unit]
    return number[0] * numerator, number[1] * denominator


def _parse(
    value: str | int | float, factors: dict[str, Exact], what: str, default_unit: str | None
) -> float:
    """The double nearest to the exact value: Python's integer true division rounds
    correctly, once (as ``float(Fraction)`` does)."""
    numerator, denominator = _parse_exact(value, factors, what, default_unit)
    try:
        result = numerator / denominator
    except OverflowError as exc:
        raise UnitError(f"{what} {value!r} is not finite") from exc
    if not math.isfinite(result):
        raise UnitError(f"{what} {value!r} is not finite")
    return result


def _fraction(exact: Exact) -> Fraction:
    from fractions import Fraction

    return Fraction(*exact)


def parse_duration_s(value: str | int | float, *, default_unit: str | None = None) -> float:
    """Parse ``"250ms"``, ``"5min"``, ``"1.5h"`` into seconds; negatives are refused."""
    seconds = _parse(value, _DURATION_FACTORS_S, "duration", default_unit)
    if seconds < 0:
        raise UnitError(f"duration {value!r} must not be negative")
    return seconds


def parse_size_bytes(value: str | int | float, *, default_unit: str | None = None) -> float:
    """Parse ``"50MB"`` (10⁶) or ``"2GiB"`` (2³⁰) into bytes."""
    size = _parse(value, _SIZE_FACTORS_BYTES, "size", default_unit)
    if size < 0:
        raise UnitError(f"size {value!r} must not be negative")
    return size


def parse_rate_bps(value: str | int | float, *, default_unit: str | None = None) -> float:
    """Parse ``"100Mbit/s"`` or ``"12.5MB/s"`` into bits per second (decimal prefixes)."""
    rate = _parse(value, _RATE_FACTORS_BPS, "rate", default_unit)
    if rate < 0:
        raise UnitError(f"rate {value!r} must not be negative")
    return rate


def parse_ratio(value: str | int | float) -> float:
    """Parse ``"0.1%"``, ``"1e-3"`` or ``0.001`` into a ratio in [0, 1]."""
    ratio = _parse(value, _RATIO_FACTORS, "ratio", "")
    if not 0.0 <= ratio <= 1.0:
        raise UnitError(f"ratio {value!r} must lie between 0 and 1 (0 % and 100 %)")
    return ratio


def parse_duration_exact(value: str | int | float) -> Fraction:
    """Like :func:`parse_duration_s`, as the exact rational number of seconds written."""
    seconds = _fraction(_parse_exact(value, _DURATION_FACTORS_S, "duration", None))
    if seconds < 0:
        raise UnitError(f"duration {value!r} must not be negative")
    return seconds


def parse_rate_exact(value: str | int | float) -> Fraction:
    """Like :func:`parse_rate_bps`, as the exact rational number of bit/s written."""
    rate = _fraction(_parse_exact(value, _RATE_FACTORS_BPS, "rate", None))
    if rate < 0:
        raise UnitError(f"rate {value!r} must not be negative")
    return rate


def parse_ratio_exact(value: str | int | float) -> Fraction:
    """Like :func:`parse_ratio`, as the exact rational number written (``"95%"`` → 19/20).

    Used where a limit is compared with a count ratio k/n, so that a share exactly at the
    limit is decided by integer arithmetic, never by floating-point noise.
    """
    ratio = _fraction(_parse_exact(value, _RATIO_FACTORS, "ratio", ""))
    if not 0 <= ratio <= 1:
        raise UnitError(f"ratio {value!r} must lie between 0 and 1 (0 % and 100 %)")
    return ratio


# Conversions used at the edges (printing, profiles) ---------------------------------------


def s_to_ms(seconds: float | None) -> float | None:
    """Seconds → milliseconds, keeping ``None`` (missing stays missing)."""
    return None if seconds is None else seconds * 1e3


def ms_to_s(milliseconds: float | None) -> float | None:
    """Milliseconds → seconds, keeping ``None``."""
    return None if milliseconds is None else milliseconds / 1e3


def bps_to_mbps(bps: float | None) -> float | None:
    """Bit/s → Mbit/s (10⁶), keeping ``None``."""
    return None if bps is None else bps / 1e6


def format_duration(seconds: float | None) -> str:
    """Human-readable duration with a sensible unit (``"12.3 ms"``); ``"—"`` when missing."""
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return "—"
    magnitude = abs(seconds)
    if magnitude >= 120:
        return f"{seconds / 60:.1f} min"
    if magnitude >= 1:
        return f"{seconds:.3f} s"
    if magnitude >= 1e-3:
        return f"{seconds * 1e3:.3f} ms"
    return f"{seconds * 1e6:.1f} µs"


def format_rate(bps: float | None) -> str:
    """Human-readable rate in decimal units (``"94.1 Mbit/s"``)."""
    if bps is None or (isinstance(bps, float) and math.isnan(bps)):
        return "—"
    for factor, unit in ((1e9, "Gbit/s"), (1e6, "Mbit/s"), (1e3, "kbit/s")):
        if abs(bps) >= factor:
            return f"{bps / factor:.2f} {unit}"
    return f"{bps:.0f} bit/s"


def format_ratio_percent(ratio: float | None, digits: int = 2) -> str:
    """Ratio → ``"1.25 %"``."""
    if ratio is None or (isinstance(ratio, float) and math.isnan(ratio)):
        return "—"
    return f"{ratio * 100:.{digits}f} %"


def format_bytes(size: float | None) -> str:
    """Human-readable size in decimal units (``"12.5 MB"``)."""
    if size is None:
        return "—"
    for factor, unit in ((1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
        if abs(size) >= factor:
            return f"{size / factor:.2f} {unit}"
    return f"{size:.0f} B"
