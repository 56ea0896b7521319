"""qos.units: what configs and profiles say, parsed into base units (docs/architecture.md §3).

Decimal SI prefixes for rates and sizes (1 Mbit/s = 10⁶ bit/s, as BEREC and RFC 9097 report),
binary prefixes only when written (GiB), and every bad input refused with a clear UnitError.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qos.errors import QosError, UnitError
from qos.units import (
    bps_to_mbps,
    format_bytes,
    format_duration,
    format_rate,
    format_ratio_percent,
    ms_to_s,
    parse_duration_s,
    parse_rate_bps,
    parse_ratio,
    parse_size_bytes,
    s_to_ms,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("250ms", 0.25),
        ("5min", 300.0),
        ("30s", 30.0),
        ("1.5h", 5400.0),
        ("2d", 172800.0),
        ("10us", 10e-6),
        ("10µs", 10e-6),
        ("100ns", 100e-9),
        (" 20 ms ", 0.02),
        ("1e3ms", 1.0),
        (".5s", 0.5),
        ("2 minutes", 120.0),
        ("0s", 0.0),
        ("+3s", 3.0),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration_s(text) == pytest.approx(seconds, rel=1e-15)


@pytest.mark.parametrize(
    ("text", "bps"),
    [
        ("100Mbit/s", 100e6),
        ("100Mbps", 100e6),
        ("2.5 Gbit/s", 2.5e9),
        ("64kbit/s", 64e3),
        ("12.5MB/s", 100e6),  # bytes per second are converted to bits
        ("1B/s", 8.0),
        ("9600bps", 9600.0),
    ],
)
def test_parse_rate(text: str, bps: float) -> None:
    assert parse_rate_bps(text) == pytest.approx(bps, rel=1e-15)


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("1.5GB", 1.5e9),
        ("50MB", 50e6),
        ("2GiB", 2 * 2**30),
        ("1KiB", 1024.0),
        ("3 MiB", 3 * 2**20),
        ("10kB", 1e4),
        ("1500B", 1500.0),
        ("1500 bytes", 1500.0),
    ],
)
def test_parse_size(text: str, size: float) -> None:
    assert parse_size_bytes(text) == pytest.approx(size, rel=1e-15)


def test_decimal_and_binary_prefixes_differ() -> None:
    assert parse_size_bytes("1GB") == 1e9
    assert parse_size_bytes("1GiB") == 1073741824.0


@pytest.mark.parametrize(
    ("value", "ratio"),
    [("0.1%", 0.001), ("1e-3", 0.001), (0.001, 0.001), ("100%", 1.0), ("5 ppm", 5e-6), (0, 0.0)],
)
def test_parse_ratio(value: str | float, ratio: float) -> None:
    assert parse_ratio(value) == pytest.approx(ratio, rel=1e-15)


def test_default_unit_applies_to_bare_numbers() -> None:
    assert parse_duration_s(250, default_unit="ms") == pytest.approx(0.25)
    assert parse_duration_s("250", default_unit="ms") == pytest.approx(0.25)
    assert parse_rate_bps(100, default_unit="Mbit/s") == 100e6


def test_number_without_unit_is_refused() -> None:
    with pytest.raises(UnitError, match="needs a unit"):
        parse_duration_s("250")
    with pytest.raises(UnitError, match="needs a unit"):
        parse_duration_s(250)
    with pytest.raises(UnitError, match="needs a unit"):
        parse_rate_bps(100)


def test_unknown_unit_lists_the_known_units() -> None:
    with pytest.raises(UnitError) as info:
        parse_duration_s("5 fortnights")
    message = str(info.value)
    assert "'fortnights'" in message
    assert "known units:" in message
    for unit in ("ms", "min", "s", "h"):
        assert unit in message.split("known units:")[1].replace(",", " ").split()


def test_unit_of_another_dimension_is_refused() -> None:
    with pytest.raises(UnitError, match="unknown unit 'MB'"):
        parse_duration_s("5MB")
    with pytest.raises(UnitError, match="unknown unit 'ms'"):
        parse_rate_bps("5ms")
    with pytest.raises(UnitError, match="unknown unit 'Mbit/s'"):
        parse_size_bytes("5Mbit/s")


@pytest.mark.parametrize(
    ("parse", "text"),
    [(parse_duration_s, "-5ms"), (parse_size_bytes, "-5MB"), (parse_rate_bps, "-5bps")],
)
def test_negative_quantities_are_refused(parse: Callable[[str], float], text: str) -> None:
    with pytest.raises(UnitError, match="must not be negative"):
        parse(text)


@pytest.mark.parametrize("value", ["-0.1%", "101%", 1.5, "2"])
def test_ratio_outside_unit_interval_is_refused(value: str | float) -> None:
    with pytest.raises(UnitError, match="between 0 and 1"):
        parse_ratio(value)


@pytest.mark.parametrize("parse", [parse_duration_s, parse_size_bytes, parse_rate_bps, parse_ratio])
def test_booleans_are_not_numbers(parse: Callable[[object], float]) -> None:
    with pytest.raises(UnitError, match="boolean"):
        parse(True)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_numbers_are_refused(value: float) -> None:
    with pytest.raises(UnitError):
        parse_duration_s(value, default_unit="s")
    with pytest.raises(UnitError):
        parse_ratio(value)


@pytest.mark.parametrize("text", ["nan ms", "inf s", "NaN", "infinity", "1e400s", "--5s", "", "ms"])
def test_non_finite_or_malformed_text_is_refused(text: str) -> None:
    with pytest.raises(UnitError):
        parse_duration_s(text)


@pytest.mark.parametrize("value", [None, [1], {"ms": 1}, b"5ms"])
def test_wrong_types_are_refused(value: object) -> None:
    with pytest.raises(UnitError, match="must be a string"):
        parse_duration_s(value)  # type: ignore[arg-type]


def test_unit_error_is_part_of_the_error_tree() -> None:
    assert issubclass(UnitError, QosError)
    assert issubclass(UnitError, ValueError)


@given(st.integers(min_value=0, max_value=10**9))
@settings(deadline=None)  # timing-independent: the machine is shared
def test_millisecond_integers_parse_exactly(ms: int) -> None:
    assert parse_duration_s(f"{ms}ms") == pytest.approx(ms / 1000, rel=1e-15)


# -- conversions and formatting ----------------------------------------------------------


def test_conversions_keep_missing_as_none() -> None:
    assert s_to_ms(None) is None
    assert ms_to_s(None) is None
    assert bps_to_mbps(None) is None
    assert s_to_ms(0.25) == 250.0
    assert ms_to_s(250.0) == 0.25
    assert bps_to_mbps(94.1e6) == pytest.approx(94.1)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.25, "250.000 ms"),
        (0.0123, "12.300 ms"),
        (12e-6, "12.0 µs"),
        (1.5, "1.500 s"),
        (300.0, "5.0 min"),
        (None, "—"),
        (math.nan, "—"),
    ],
)
def test_format_duration(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize(
    ("bps", "text"),
    [
        (94.1e6, "94.10 Mbit/s"),
        (2.5e9, "2.50 Gbit/s"),
        (64e3, "64.00 kbit/s"),
        (300, "300 bit/s"),
        (None, "—"),
    ],
)
def test_format_rate(bps: float | None, text: str) -> None:
    assert format_rate(bps) == text


def test_format_ratio_and_bytes() -> None:
    assert format_ratio_percent(0.0125) == "1.25 %"
    assert format_ratio_percent(0.001, digits=1) == "0.1 %"
    assert format_ratio_percent(None) == "—"
    assert format_bytes(12.5e6) == "12.50 MB"
    assert format_bytes(999) == "999 B"
    assert format_bytes(None) == "—"


@given(st.floats(min_value=1e-3, max_value=119.0))
@settings(deadline=None)  # timing-independent: the machine is shared
def test_formatted_duration_parses_back(seconds: float) -> None:
    value, unit = format_duration(seconds).split(" ")
    assert parse_duration_s(f"{value}{unit}") == pytest.approx(seconds, rel=1e-3, abs=1e-6)


# --- exact decimal values, rounded once ------------------------------------------------------

_PERCENT_TEXTS = [f"{n}%" for n in range(101)] + [
    f"{n}.{d}%" for n in range(100) for d in range(10)
]


def test_every_percent_is_the_double_nearest_its_decimal_value() -> None:
    from fractions import Fraction

    from qos.units import parse_ratio, parse_ratio_exact

    for text in _PERCENT_TEXTS:
        exact = Fraction(text[:-1]) / 100
        assert parse_ratio_exact(text) == exact, text
        assert parse_ratio(text) == float(exact), text  # float(Fraction) rounds correctly
    assert parse_ratio("95%") == 0.95  # not 95 × 0.01 = 0.9500000000000001


@given(
    st.integers(min_value=0, max_value=10**7),
    st.integers(min_value=0, max_value=6),
    st.sampled_from(
        [
            ("ms", 10**-3, "duration"),
            ("µs", 10**-6, "duration"),
            ("us", 10**-6, "duration"),
            ("ns", 10**-9, "duration"),
            ("min", 60, "duration"),
            ("Mbit/s", 10**6, "rate"),
            ("kbit/s", 10**3, "rate"),
            ("MB/s", 8 * 10**6, "rate"),
            ("kB", 10**3, "size"),
            ("MiB", 2**20, "size"),
            ("GB", 10**9, "size"),
            ("%", 10**-2, "ratio"),
            ("ppm", 10**-6, "ratio"),
        ]
    ),
)
def test_quantities_are_the_double_nearest_the_exact_value(
    mantissa: int, decimals: int, unit: tuple[str, float, str]
) -> None:
    from fractions import Fraction

    from qos.units import parse_duration_s, parse_rate_bps, parse_ratio, parse_size_bytes

    name, factor, dimension = unit
    exact_number = Fraction(mantissa, 10**decimals)
    if decimals:
        text = f"{mantissa // 10**decimals}.{mantissa % 10**decimals:0{decimals}d}{name}"
    else:
        text = f"{mantissa}{name}"
    exact = exact_number * Fraction(factor).limit_denominator(10**9)
    parse = {
        "duration": parse_duration_s,
        "rate": parse_rate_bps,
        "size": parse_size_bytes,
        "ratio": parse_ratio,
    }[dimension]
    if dimension == "ratio" and exact > 1:
        return
    assert parse(text) == float(exact), text
