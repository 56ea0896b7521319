"""qos.metrics against the vectors of docs/methods.md §6 and §1.3 (index §10: V6, V8–V12, V17).

Delays go in as seconds (the toolkit's base unit); vectors written in ms are converted on the
way in and the expected values on the way out.  numpy is the oracle for the RFC 2330
percentile (``method="inverted_cdf"``); it is imported here only, never by ``qos``.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from qos.metrics import (
    arrival_ordered_rtts,
    goodput_bps,
    inverse_percentile,
    ipdv_p999_s,
    ipdv_series_s,
    jitter_mean_abs_diff_s,
    jitter_rfc3550_s,
    loss_ratio,
    median,
    minimum,
    pdv_series_s,
    percentile,
    percentile_rank,
    rtt_mean_s,
    rtt_median_s,
    rtt_min_s,
    rtt_p95_s,
    summarize_rtt,
)
from qos.records import ProbeSample, RttResult


def ms(*values: float | None) -> list[float | None]:
    return [None if v is None else v / 1000 for v in values]


# -- V6: RFC 3550 interarrival jitter, docs/methods.md §6.1 vector A ----------------------------

# 8 kHz clock, 20 ms packets: S = 0, 160, …, 800; arrivals 100, 120, 145, 160, 180, 205 ms.
V6_SEND_TS = [0, 160, 320, 480, 640, 800]
V6_ARRIVAL_TS = [800, 960, 1160, 1280, 1440, 1640]
V6_ARRIVAL_MS = [100, 120, 145, 160, 180, 205]
V6_J_TS = [0.0, 2.5, 4.84375, 4.541016, 6.757202]  # after packets 2…6
V6_J_MS = [0.0, 0.3125, 0.605469, 0.567627, 0.844650]


def test_v6_rfc3550_jitter_in_timestamp_units() -> None:
    transit = [r - s for r, s in zip(V6_ARRIVAL_TS, V6_SEND_TS, strict=True)]
    for n, expected in enumerate(V6_J_TS, start=2):
        assert jitter_rfc3550_s(transit[:n]) == pytest.approx(expected, abs=5e-7)


def test_v6_rfc3550_jitter_from_delays_in_seconds() -> None:
    send_ms = [s / 8 for s in V6_SEND_TS]  # 8 timestamp units per ms
    delays_s = [(a - s) / 1000 for a, s in zip(V6_ARRIVAL_MS, send_ms, strict=True)]
    for n, expected_ms in enumerate(V6_J_MS, start=2):
        assert jitter_rfc3550_s(delays_s[:n]) == pytest.approx(expected_ms / 1000, abs=5e-10)
    final = jitter_rfc3550_s(delays_s)
    assert final is not None
    assert final * 1000 == pytest.approx(0.844650, abs=5e-7)
    assert final * 8000 == pytest.approx(6.757202, abs=5e-7)  # back to ts units


def test_rfc3550_jitter_skips_lost_packets_and_needs_two() -> None:
    assert jitter_rfc3550_s([]) is None
    assert jitter_rfc3550_s([0.1]) is None
    assert jitter_rfc3550_s([None, 0.1, None]) is None
    with_loss = jitter_rfc3550_s([0.100, None, 0.100, 0.105])
    assert with_loss == pytest.approx(jitter_rfc3550_s([0.100, 0.100, 0.105]))
    assert with_loss == pytest.approx(0.005 / 16)


def test_rfc3550_jitter_uses_arrival_order() -> None:
    # Probe 1 is sent at 20 ms with a 50 ms RTT and arrives (70 ms) after probe 2 (40 + 10 ms).
    probes = [
        ProbeSample(0, 0.000, 0.010),
        ProbeSample(1, 0.020, 0.050),
        ProbeSample(2, 0.040, 0.010),
        ProbeSample(3, 0.060, None),
    ]
    assert arrival_ordered_rtts(probes) == [0.010, 0.010, 0.050]
    summary = summarize_rtt(RttResult(probes=tuple(reversed(probes))))
    assert summary["jitter_rfc3550_s"] == pytest.approx(jitter_rfc3550_s([0.010, 0.010, 0.050]))
    # Sequence order would give a different (wrong for RFC 3550) estimate.
    assert summary["jitter_rfc3550_s"] != pytest.approx(jitter_rfc3550_s([0.010, 0.050, 0.010]))


# -- V8: RFC 5481 Fig. 1 IPDV / PDV, docs/methods.md §6.3 ---------------------------------------

V8_DELAYS = ms(20, 10, 20, 25, 20)


def test_v8_ipdv_series() -> None:
    ipdv = ipdv_series_s(V8_DELAYS)
    assert ipdv[0] is None  # U: no predecessor
    assert ipdv[1:] == pytest.approx(ms(-10, 10, 5, -5), abs=1e-12)
    defined = [v for v in ipdv if v is not None]
    assert max(defined) - min(defined) == pytest.approx(0.020, abs=1e-12)


def test_v8_pdv_series() -> None:
    pdv = pdv_series_s(V8_DELAYS)
    assert pdv == pytest.approx(ms(10, 0, 10, 15, 10), abs=1e-12)
    assert max(pdv) - min(pdv) == pytest.approx(0.015, abs=1e-12)  # type: ignore[type-var]


def test_ipdv_and_pdv_with_losses() -> None:
    delays = ms(20, None, 20, 25)
    assert ipdv_series_s(delays) == [None, None, None, pytest.approx(0.005)]
    assert pdv_series_s(delays) == [0.0, None, 0.0, pytest.approx(0.005)]
    assert pdv_series_s([None, None]) == [None, None]


def test_rfc3393_mean_abs_ipdv_discards_pairs_with_a_loss() -> None:
    assert jitter_mean_abs_diff_s(V8_DELAYS) == pytest.approx((10 + 10 + 5 + 5) / 4 / 1000)
    # Pairs (20,None) and (None,20) are discarded; only (20,25) remains.
    assert jitter_mean_abs_diff_s(ms(20, None, 20, 25)) == pytest.approx(0.005)
    assert jitter_mean_abs_diff_s(ms(20, None, 20)) is None
    assert jitter_mean_abs_diff_s([]) is None


# -- V9–V11: RFC 7679 / RFC 2330 percentiles, docs/methods.md §6.4 -------------------------------


def test_v9_rfc7679_stream1_median_with_undefined_as_infinite() -> None:
    stream1 = ms(100, 110, None, 90, 500)
    assert percentile(stream1, 0.5) == pytest.approx(0.110)
    assert percentile(stream1, Fraction(1, 2)) == pytest.approx(0.110)
    assert percentile(stream1, 1.0) == math.inf  # the lost packet is the maximum
    # Excluding the loss is a different (conditional) statistic: rank ⌈0.5·4⌉ = 2 → 100 ms.
    assert percentile(stream1, 0.5, undefined="exclude") == pytest.approx(0.100)


def test_v10_rfc7679_stream2_median_minimum_inverse_percentile() -> None:
    stream2 = ms(100, 110, None, 90)
    assert median(stream2) == pytest.approx(0.105)
    assert minimum(stream2) == pytest.approx(0.090)
    assert inverse_percentile(stream2, 0.103) == 0.5


def test_median_edge_cases() -> None:
    assert median([]) is None
    assert median([None, None]) == math.inf
    assert median([0.1, None]) == math.inf
    assert median([0.1, None], undefined="exclude") == 0.1
    assert median([0.3, 0.1, 0.2]) == 0.2
    assert minimum([None]) is None
    assert inverse_percentile([], 1.0) is None


RFC2330_SAMPLE = [-2, 7, 7, 4, 18, -5]


@pytest.mark.parametrize(
    ("p", "expected"),
    [(0.25, -2), (0.5, 4), (1.0, 18), (0.0, -math.inf), (0.15, -5), (Fraction(1, 6), -5)],
)
def test_v11_rfc2330_percentiles(p: float | Fraction, expected: float) -> None:
    assert percentile(RFC2330_SAMPLE, p) == expected


def test_v11_rfc2330_agrees_with_numpy_inverted_cdf_not_linear() -> None:
    sample = np.array(RFC2330_SAMPLE, dtype=float)
    for p in (0.15, 0.25, 0.5, 1.0):
        assert percentile(RFC2330_SAMPLE, p) == np.quantile(sample, p, method="inverted_cdf")
    assert np.percentile(sample, 50) == 5.5  # numpy's default (linear) is a different statistic
    assert percentile(RFC2330_SAMPLE, 0.5) != 5.5


def test_percentile_edge_cases() -> None:
    assert percentile([], 0.5) is None
    assert percentile([None], 0.5, undefined="exclude") is None
    assert percentile([None], 0.5) == math.inf
    for bad in (-0.01, 1.01, "2"):
        with pytest.raises(ValueError, match=r"\[0, 1\]"):
            percentile([1.0], bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="NaN"):
        percentile([0.1, math.nan], 0.5)
    with pytest.raises(ValueError, match="empty"):
        percentile_rank(0, 0.5)


# -- V12: RFC 7680 loss ratio, docs/methods.md §6.5 ---------------------------------------------


def test_v12_loss_ratio() -> None:
    singletons = [0, 0, 1, 0, 0]  # RFC 7680 L: 1 = lost
    delays = [None if lost else 0.010 for lost in singletons]
    assert loss_ratio(delays) == 0.2
    assert loss_ratio([]) is None  # undefined for an empty sample
    assert loss_ratio([None, None]) == 1.0
    assert loss_ratio([0.0]) == 0.0  # a zero delay is received, not lost


# -- V17: Y.1541 IPDV on a ramp and the float-rank pitfall, docs/methods.md §1.3 ---------------

# d_k = 20.000 + 0.010·k ms, k = 0…999, built from exact integers (µs) to avoid drift.
RAMP_S = [(20_000 + 10 * k) / 1_000_000 for k in range(1000)]


def test_v17_ramp_ipdv_p999() -> None:
    ipdv = ipdv_p999_s(RAMP_S)
    assert ipdv is not None
    assert ipdv * 1000 == pytest.approx(9.98, abs=1e-9)
    assert rtt_mean_s(RAMP_S) == pytest.approx(0.024995, abs=1e-12)
    assert rtt_min_s(RAMP_S) == 0.020
    assert percentile_rank(1000, 0.999) == 999


def test_v17_float_rank_pitfall_is_avoided() -> None:
    ramp = np.array(RAMP_S)
    oracle = float(np.quantile(ramp, 0.999, method="inverted_cdf"))
    assert oracle == pytest.approx(0.02998, abs=1e-12)
    # Every exact way of writing 99.9 % gives the 999th value, like the oracle …
    for p in (0.999, "0.999", Fraction("99.9") / 100, Fraction(999, 1000)):
        assert percentile(RAMP_S, p) == oracle
    # … while the naive float rank lands on the 1000th value (29.99 ms): the pitfall.
    assert math.ceil(99.9 / 100 * 1000) == 1000
    assert float(np.percentile(ramp, 99.9, method="inverted_cdf")) == pytest.approx(0.02999)


def test_ipdv_p999_small_samples_and_losses() -> None:
    assert ipdv_p999_s([]) is None
    assert ipdv_p999_s([None, None]) is None
    # Below 1000 packets the 99.9 % quantile is the sample maximum; losses are excluded.
    assert ipdv_p999_s(ms(20, None, 35, 25)) == pytest.approx(0.015)


# -- the RTT summary ---------------------------------------------------------------------------


def test_summarize_rtt() -> None:
    rtts = ms(10, 12, None, 11, 30, None, 10, 14, 13, 12)
    probes = tuple(
        ProbeSample(i, i * 0.02, r, duplicates=1 if i == 4 else 0) for i, r in enumerate(rtts)
    )
    summary = summarize_rtt(RttResult(probes=probes))
    received = [r for r in rtts if r is not None]
    assert summary["sent"] == 10
    assert summary["received"] == 8
    assert summary["duplicates"] == 1
    assert summary["loss_ratio"] == 0.2
    assert summary["rtt_min_s"] == 0.010
    assert summary["rtt_mean_s"] == pytest.approx(sum(received) / 8)
    assert summary["rtt_median_s"] == pytest.approx(0.012)  # received: 10 10 11 12 12 13 14 30
    assert summary["rtt_p95_s"] == 0.030  # rank ⌈0.95·8⌉ = 8
    assert summary["ipdv_p999_s"] == pytest.approx(0.020)
    assert summary["jitter_mean_abs_diff_s"] == jitter_mean_abs_diff_s(rtts)
    assert rtt_median_s(rtts) == summary["rtt_median_s"]
    assert rtt_p95_s(rtts) == summary["rtt_p95_s"]


def test_summary_of_a_dead_target() -> None:
    summary = summarize_rtt(
        RttResult(probes=tuple(ProbeSample(i, i * 0.1, None) for i in range(5)))
    )
    assert summary["loss_ratio"] == 1.0
    assert summary["received"] == 0
    for key in ("rtt_min_s", "rtt_mean_s", "rtt_median_s", "rtt_p95_s", "ipdv_p999_s"):
        assert summary[key] is None, key
    assert summary["jitter_rfc3550_s"] is None


def test_goodput() -> None:
    assert goodput_bps(125_000_000, 10.0) == 100e6
    assert goodput_bps(1, 0.0) is None


# -- properties --------------------------------------------------------------------------------

delay = st.floats(min_value=0.0, max_value=10.0, allow_nan=False)
delays_with_losses = st.lists(st.none() | delay, max_size=200)
delays_received = st.lists(delay, min_size=1, max_size=200)


@given(delays_with_losses)
@settings(deadline=None)  # timing-independent: the machine is shared
def test_loss_ratio_is_a_ratio(delays: list[float | None]) -> None:
    ratio = loss_ratio(delays)
    if not delays:
        assert ratio is None
    else:
        assert ratio is not None
        assert 0.0 <= ratio <= 1.0
        assert ratio * len(delays) == pytest.approx(delays.count(None))


@given(delays_with_losses)
@settings(deadline=None)  # timing-independent: the machine is shared
def test_jitter_estimators_are_non_negative(delays: list[float | None]) -> None:
    for value in (jitter_rfc3550_s(delays), jitter_mean_abs_diff_s(delays)):
        assert value is None or value >= 0.0
    ipdv = ipdv_p999_s(delays)
    assert ipdv is None or ipdv >= 0.0


@given(delays_with_losses, st.lists(st.fractions(0, 1), min_size=2, max_size=10))
@settings(deadline=None)  # timing-independent: the machine is shared
def test_percentiles_are_monotone_in_p(delays: list[float | None], ps: list[Fraction]) -> None:
    assume(delays)
    values = [percentile(delays, p) for p in sorted(ps)]
    assert values == sorted(values)  # type: ignore[type-var]


@given(delays_received, st.integers(1, 1024), st.integers(0, 10))
@settings(max_examples=300, deadline=None)
def test_percentile_equals_numpy_inverted_cdf(values: list[float], k: int, bits: int) -> None:
    # Dyadic probabilities are exact both as Fraction and as float, so numpy's float
    # arithmetic cannot mis-rank them; p = 0 is −∞ by RFC 2330 and excluded.
    p = Fraction(min(k, 2**bits), 2**bits)
    expected = float(np.quantile(np.array(values), float(p), method="inverted_cdf"))
    assert percentile(values, p) == expected
    assert percentile(values, float(p)) == expected


@given(st.lists(delay, min_size=1, max_size=300), st.integers(1, 1000))
@settings(deadline=None)  # timing-independent: the machine is shared
def test_percentile_of_integer_permille_matches_exact_rank(
    values: list[float], permille: int
) -> None:
    p = Fraction(permille, 1000)
    rank = math.ceil(p * len(values))  # exact: RFC 2330 smallest x with F(x) ≥ p
    assert percentile(values, p) == sorted(values)[rank - 1]
    assert percentile(values, permille / 1000) == sorted(values)[rank - 1]


@given(delays_with_losses)
@settings(deadline=None)  # timing-independent: the machine is shared
def test_mean_lies_between_min_and_max(delays: list[float | None]) -> None:
    received = [d for d in delays if d is not None]
    mean = rtt_mean_s(delays)
    if not received:
        assert mean is None
    else:
        assert mean is not None
        assert min(received) <= mean <= max(received)
        assert rtt_min_s(delays) == min(received)


def test_mean_of_identical_values_is_that_value() -> None:
    # fsum([0.1] * 3) / 3 == 0.10000000000000002: a mean above every sample.
    assert rtt_mean_s([0.1, 0.1, 0.1]) == 0.1


@given(delays_with_losses)
@settings(deadline=None)  # timing-independent: the machine is shared
def test_median_lies_between_neighbouring_percentiles(delays: list[float | None]) -> None:
    assume(delays)
    med = median(delays)
    low, high = percentile(delays, 0.5), percentile(delays, 1.0)
    assert med is not None and low is not None and high is not None
    assert low <= med <= high
