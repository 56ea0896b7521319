"""Delay variation, jitter, loss patterns, burst/gap, Gilbert–Elliott and RFC 6349 helpers.

Vectors V6, V7, V8, V12, V13, V14–V16 of docs/methods.md §10; RFC 3357 definitions (§6.7);
Gilbert estimation checked on synthetic traces with a known p, r (§6.9).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from qos import metrics
from qos_analysis.stats.delay import (
    arrival_order,
    ipdv_inter_quantile_range,
    ipdv_pseudo_range,
    ipdv_series,
    jitter_rfc3550,
    jitter_rfc3550_int,
    jitter_rfc3550_series,
    mean_abs_ipdv,
    pdv_series,
    rtcp_rtt_s,
)
from qos_analysis.stats.loss import (
    burst_gap,
    gilbert_elliott_loss_probability,
    gilbert_estimate,
    loss_patterns,
    loss_ratio,
)
from qos_analysis.stats.tcp import (
    buffer_delay_percent,
    max_tcp_throughput_bps,
    tcp_efficiency_percent,
    transfer_time_ratio,
    window_limited_throughput_bps,
)
from tests.analysis.synthetic import gilbert_trace

NAN = math.nan


def test_v6_rfc3550_jitter_vector_a() -> None:
    send_ts = np.array([0, 160, 320, 480, 640, 800])
    arrival_ts = np.array([800, 960, 1160, 1280, 1440, 1640])
    transit = arrival_ts - send_ts
    series = jitter_rfc3550_series(transit.astype(float))
    assert series.tolist() == pytest.approx([0.0, 2.5, 4.84375, 4.541016, 6.757202], abs=1e-6)
    assert jitter_rfc3550(transit.astype(float)) / 8 == pytest.approx(0.844650, abs=1e-6)
    assert jitter_rfc3550_int(transit) == 6
    # Same as the stdlib reference in qos.metrics.
    assert jitter_rfc3550(transit.astype(float)) == pytest.approx(
        metrics.jitter_rfc3550_s(transit.astype(float).tolist())
    )


def test_v7_rtcp_rtt() -> None:
    a = 0xB710_8000
    lsr = 0xB705_2000
    dlsr = 0x0005_4000
    assert rtcp_rtt_s(a, lsr, dlsr) == 6.125


def test_v8_ipdv_and_pdv() -> None:
    d = np.array([20, 10, 20, 25, 20], dtype=float)
    ipdv = ipdv_series(d)
    assert math.isnan(ipdv[0])
    assert ipdv[1:].tolist() == [-10, 10, 5, -5]
    assert np.nanmax(ipdv) - np.nanmin(ipdv) == 20
    pdv = pdv_series(d)
    assert pdv.tolist() == [10, 0, 10, 15, 10]
    assert pdv.max() - pdv.min() == 15
    with_loss = np.array([20, NAN, 20], dtype=float)
    assert np.isnan(ipdv_series(with_loss)[1:]).all()


def test_ipdv_pseudo_range_and_other_definitions_agree_with_reference() -> None:
    rng = np.random.default_rng(3)
    d = 0.02 + rng.uniform(0, 0.005, 1500)
    d[rng.random(1500) < 0.02] = NAN
    as_list = [None if math.isnan(x) else float(x) for x in d]
    assert ipdv_pseudo_range(d) == metrics.ipdv_p999_s(as_list)
    assert mean_abs_ipdv(d) == pytest.approx(metrics.jitter_mean_abs_diff_s(as_list))
    assert ipdv_inter_quantile_range(d) > 0
    assert math.isnan(ipdv_pseudo_range(np.array([NAN, NAN])))


def test_arrival_order_for_rfc3550() -> None:
    send = np.array([0.0, 0.02, 0.04])
    rtt = np.array([0.1, 0.03, NAN])  # packet 1 arrives before packet 0
    assert arrival_order(send, rtt).tolist() == [1, 0]


def test_v12_loss_ratio() -> None:
    assert loss_ratio(np.array([0, 0, 1, 0, 0], dtype=bool)) == 0.2
    assert math.isnan(loss_ratio(np.array([], dtype=bool)))


def test_rfc3357_loss_distance_and_periods() -> None:
    #            0  1  2  3  4  5  6  7  8  9
    lost = np.array([0, 1, 1, 0, 0, 1, 0, 0, 0, 1], dtype=bool)
    lp = loss_patterns(lost, delta=3)
    assert lp.loss_distances == (0, 1, 3, 4)
    assert lp.loss_periods == (1, 1, 2, 3)
    assert lp.loss_period_total == 3
    assert lp.loss_period_lengths == ((1, 2), (2, 1), (3, 1))
    assert lp.inter_loss_period_lengths == ((1, 0), (2, 3), (3, 4))
    # Noticeable: distances ≤ 3 excluding the first loss → {1, 3} → 2 of 4 losses.
    assert lp.noticeable_rate == 0.5
    assert math.isnan(loss_patterns(np.zeros(5, bool), delta=1).noticeable_rate)


def test_v13_rfc3611_burst_gap_example() -> None:
    pattern = "11110111111111111111111X111X1011110111111111111111111X111111111"
    assert len(pattern) == 63  # the RFC says 64 packets; the printed string has 63
    lost = np.array([c != "1" for c in pattern])
    bg = burst_gap(lost, gmin=16, spacing_s=0.010)
    assert bg.bursts == ((23, 34),)
    assert bg.burst_packets == 12
    assert bg.burst_lost == 4
    assert abs(bg.burst_density_field - 84) <= 1  # RFC prints 84, the string gives 85
    assert bg.burst_density_field == 85
    assert bg.gap_density_field == 10
    assert bg.burst_duration_s == pytest.approx(0.120)
    assert bg.gap_packets == 23 + 28
    assert bg.gap_duration_s == pytest.approx((0.230 + 0.280) / 2)


def test_burst_gap_isolated_losses_stay_in_gaps() -> None:
    lost = np.zeros(100, dtype=bool)
    lost[[10, 50, 90]] = True  # ≥ 16 received packets between them
    bg = burst_gap(lost)
    assert bg.bursts == ()
    assert bg.gap_lost == 3 and bg.burst_packets == 0
    assert bg.gap_density <= 1 / 17


@pytest.mark.parametrize(("loss", "burst_len"), [(0.02, 1.0), (0.05, 4.0), (0.1, 2.5)])
def test_gilbert_estimate_recovers_known_chain(loss: float, burst_len: float) -> None:
    rng = np.random.default_rng(11)
    trace = gilbert_trace(rng, 200_000, loss, burst_len)
    est = gilbert_estimate(trace)
    r = 1 / burst_len
    p = loss * r / (1 - loss)
    assert est.loss_ratio == pytest.approx(loss, rel=0.08)
    assert est.r == pytest.approx(r, rel=0.08)
    assert est.p == pytest.approx(p, rel=0.08)
    assert est.burst_ratio == pytest.approx(1 / (p + r), rel=0.08)
    # Alternative estimate: mean burst length × (1 − Ppl) (docs/methods.md §6.9).
    assert est.mean_burst_length * (1 - est.loss_ratio) == pytest.approx(est.burst_ratio, rel=0.02)


def test_gilbert_edge_cases_and_gilbert_elliott() -> None:
    assert math.isnan(gilbert_estimate(np.zeros(100, bool)).burst_ratio)
    assert math.isnan(gilbert_estimate(np.ones(100, bool)).burst_ratio)
    assert gilbert_elliott_loss_probability(0.1, 0.4, 1.0, 0.0) == pytest.approx(0.1 / 0.5)


def test_v14_to_v16_rfc6349() -> None:
    assert window_limited_throughput_bps(16_000, 0.005) == pytest.approx(25.6e6)
    assert window_limited_throughput_bps(16_000, 0.010) == pytest.approx(12.8e6)
    assert max_tcp_throughput_bps(100e6) / 1e6 == pytest.approx(94.9, abs=0.05)
    assert max_tcp_throughput_bps(1e9) / 1e6 == pytest.approx(949.2, abs=0.1)
    assert max_tcp_throughput_bps(10e9) / 1e6 == pytest.approx(9492, abs=1)
    assert max_tcp_throughput_bps(44.21e6, frame_overhead_bytes=8) / 1e6 == pytest.approx(
        42.8, abs=0.05
    )
    assert transfer_time_ratio(12, 8) == 1.5
    assert tcp_efficiency_percent(102_000, 2_000) == pytest.approx(98.039, abs=1e-3)
    assert buffer_delay_percent(0.032, 0.025) == pytest.approx(28.0)
