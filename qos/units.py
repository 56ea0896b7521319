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
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from qos.errors import UnitError

_F = Fraction

_DURATION_FACTORS_S: dict[str, Fraction] = {
    "ns": _F(1, 10**9),
    "us": _F(1, 10**6),
    "µs": _F(1, 10**6),
    "ms": _F(1, 10**3),
    "s": _F(1),
    "sec": _F(1),
    "secs": _F(1),
    "second": _F(1),
    "seconds": _F(1),
    "m": _F(60),
    "min": _F(60),
    "mins": _F(60),
    "minute": _F(60),
    "minutes": _F(60),
    "h": _F(3600),
    "hour": _F(3600),
    "hours": _F(3600),
    "d": _F(86400),
    "day": _F(86400),
    "days": _F(86400),
}

_SIZE_FACTORS_BYTES: dict[str, Fraction] = {
    "b": _F(1),  # lower-case b alone is ambiguous; sizes use B, we accept "b" only as bytes here
    "B": _F(1),
    "byte": _F(1),
    "bytes": _F(1),
    "kB": _F(10**3),
    "KB": _F(10**3),
    "MB": _F(10**6),
    "GB": _F(10**9),
    "TB": _F(10**12),
    "KiB": _F(2**10),
    "MiB": _F(2**20),
    "GiB": _F(2**30),
    "TiB": _F(2**40),
}

_RATE_FACTORS_BPS: dict[str, Fraction] = {
    "bit/s": _F(1),
    "bps": _F(1),
    "kbit/s": _F(10**3),
    "kbps": _F(10**3),
    "Kbit/s": _F(10**3),
    "Kbps": _F(10**3),
    "Mbit/s": _F(10**6),
    "Mbps": _F(10**6),
    "Gbit/s": _F(10**9),
    "Gbps": _F(10**9),
    "Tbit/s": _F(10**12),
    "B/s": _F(8),
    "kB/s": _F(8 * 10**3),
    "MB/s": _F(8 * 10**6),
    "GB/s": _F(8 * 10**9),
}

_RATIO_FACTORS: dict[str, Fraction] = {
    "": _F(1),
    "%": _F(1, 100),
    "percent": _F(1, 100),
    "ppm": _F(1, 10**6),
}

# ASCII digits only: Decimal() would accept "١٢" or "１２" as 12.
_QUANTITY = re.compile(
    r"^\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*([^\d\s].*?)?\s*$", re.ASCII
)
# Far beyond any physical quantity: refuses "1e999999" before exact arithmetic on it.
_MAX_EXPONENT = 400


def _split(text: str, what: str) -> tuple[Fraction, str]:
    match = _QUANTITY.match(text)
    if not match:
        raise UnitError(f"cannot parse {what} {text!r}: expected a number followed by a unit")
    try:
        decimal = Decimal(match.group(1))
    except InvalidOperation as exc:  # pragma: no cover - the regex already guards this
        raise UnitError(f"cannot parse {what} {text!r}") from exc
    if decimal and abs(decimal.adjusted()) > _MAX_EXPONENT:
        raise UnitError(f"{what} {text!r} is not finite")
    return Fraction(decimal), (match.group(2) or "").strip()


_EXAMPLES = {"duration": "250ms", "size": "50MB", "rate": "2Mbit/s"}


def _parse_exact(
    value: str | int | float, factors: dict[str, Fraction], what: str, default_unit: str | None
) -> Fraction:
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
        # A float written in TOML/JSON denotes its shortest decimal repr ("0.95").
        number = Fraction(repr(value)) if isinstance(value, float) else Fraction(value)
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
    return number * factors[unit]


def _parse(
    value: str | int | float, factors: dict[str, Fraction], what: str, default_unit: str | None
) -> float:
    """The double nearest to the exact value (``float(Fraction)`` rounds correctly once)."""
    exact = _parse_exact(value, factors, what, default_unit)
    try:
        result = float(exact)
    except OverflowError as exc:
        raise UnitError(f"{what} {value!r} is not finite") from exc
    if not math.isfinite(result):
        raise UnitError(f"{what} {value!r} is not finite")
    return result


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
    seconds = _parse_exact(value, _DURATION_FACTORS_S, "duration", None)
    if seconds < 0:
        raise UnitError(f"duration {value!r} must not be negative")
    return seconds


def parse_rate_exact(value: str | int | float) -> Fraction:
    """Like :func:`parse_rate_bps`, as the exact rational number of bit/s written."""
    rate = _parse_exact(value, _RATE_FACTORS_BPS, "rate", None)
    if rate < 0:
        raise UnitError(f"rate {value!r} must not be negative")
    return rate


def parse_ratio_exact(value: str | int | float) -> Fraction:
    """Like :func:`parse_ratio`, as the exact rational number written (``"95%"`` → 19/20).

    Used where a limit is compared with a count ratio k/n, so that a share exactly at the
    limit is decided by integer arithmetic, never by floating-point noise.
    """
    ratio = _parse_exact(value, _RATIO_FACTORS, "ratio", "")
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
