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

from qos.errors import UnitError

_DURATION_FACTORS_S: dict[str, float] = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "sec": 1.0,
    "secs": 1.0,
    "second": 1.0,
    "seconds": 1.0,
    "m": 60.0,
    "min": 60.0,
    "mins": 60.0,
    "minute": 60.0,
    "minutes": 60.0,
    "h": 3600.0,
    "hour": 3600.0,
    "hours": 3600.0,
    "d": 86400.0,
    "day": 86400.0,
    "days": 86400.0,
}

_SIZE_FACTORS_BYTES: dict[str, float] = {
    "b": 1.0,  # lower-case b alone is ambiguous; sizes use B, we accept "b" only as bytes here
    "B": 1.0,
    "byte": 1.0,
    "bytes": 1.0,
    "kB": 1e3,
    "KB": 1e3,
    "MB": 1e6,
    "GB": 1e9,
    "TB": 1e12,
    "KiB": 1024.0,
    "MiB": 1024.0**2,
    "GiB": 1024.0**3,
    "TiB": 1024.0**4,
}

_RATE_FACTORS_BPS: dict[str, float] = {
    "bit/s": 1.0,
    "bps": 1.0,
    "kbit/s": 1e3,
    "kbps": 1e3,
    "Kbit/s": 1e3,
    "Kbps": 1e3,
    "Mbit/s": 1e6,
    "Mbps": 1e6,
    "Gbit/s": 1e9,
    "Gbps": 1e9,
    "Tbit/s": 1e12,
    "B/s": 8.0,
    "kB/s": 8e3,
    "MB/s": 8e6,
    "GB/s": 8e9,
}

_RATIO_FACTORS: dict[str, float] = {"": 1.0, "%": 1e-2, "percent": 1e-2, "ppm": 1e-6}

_QUANTITY = re.compile(r"^\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*([^\d\s].*?)?\s*$")


def _split(text: str, what: str) -> tuple[float, str]:
    match = _QUANTITY.match(text)
    if not match:
        raise UnitError(f"cannot parse {what} {text!r}: expected a number followed by a unit")
    try:
        value = float(Decimal(match.group(1)))
    except InvalidOperation as exc:  # pragma: no cover - the regex already guards this
        raise UnitError(f"cannot parse {what} {text!r}") from exc
    return value, (match.group(2) or "").strip()


def _parse(
    value: str | int | float, factors: dict[str, float], what: str, default_unit: str | None
) -> float:
    if isinstance(value, bool):
        raise UnitError(f"{what} must be a number with a unit, not a boolean")
    if isinstance(value, int | float):
        if default_unit is None:
            raise UnitError(f"{what} {value!r} needs a unit, e.g. {next(iter(factors))!r}")
        number, unit = float(value), default_unit
    elif isinstance(value, str):
        number, unit = _split(value, what)
        if not unit:
            if default_unit is None:
                raise UnitError(f"{what} {value!r} needs a unit")
            unit = default_unit
    else:
        raise UnitError(f"{what} must be a string such as '250ms', got {type(value).__name__}")
    if unit not in factors:
        known = ", ".join(sorted(k for k in factors if k))
        raise UnitError(f"unknown unit {unit!r} in {what} {value!r}; known units: {known}")
    result = number * factors[unit]
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
