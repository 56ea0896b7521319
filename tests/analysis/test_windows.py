"""Windowed aggregates and peak vs off-peak in local time."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from qos import metrics
from qos.profiles import get_profile
from qos_analysis import load
from qos_analysis.aggregates import peak_offpeak, probe_aggregates, throughput_aggregates
from tests.analysis.synthetic import T0, failed_rtt, stream_series, throughput, write_store

PROFILES = [Path(__file__).resolve().parents[2] / "configs" / "profiles"]


def test_hourly_aggregates_match_the_stdlib_catalogue(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    ms = stream_series(
        rng,
        count=120,
        every=timedelta(minutes=1),
        probes=50,
        base_rtt_s=0.02,
        jitter_s=0.01,
        loss=0.02,
    )
    ms.append(failed_rtt(T0 + timedelta(minutes=30), count=50))
    data = load(write_store(tmp_path / "s.sqlite", ms, {"agent-a": "UTC"}))
    agg = probe_aggregates(data, "1h")
    assert len(agg) == 2
    first = agg.iloc[0]
    assert first["tests"] == 61 and first["sent"] == 61 * 50
    # Same numbers as qos.metrics over the same probes.
    rtts: list[float | None] = []
    for m in ms:
        if m.started_at < T0 + timedelta(hours=1):
            rtts.extend(p.rtt_s for p in m.result.probes)
    assert first["lost"] == sum(r is None for r in rtts)
    assert first["loss_ratio"] == pytest.approx(metrics.loss_ratio(rtts))
    assert first["rtt_p95_s"] == metrics.rtt_p95_s(rtts)
    assert first["rtt_median_s"] == pytest.approx(metrics.rtt_median_s(rtts))
    assert first["rtt_mean_s"] == pytest.approx(metrics.rtt_mean_s(rtts))
    assert first["ipdv_pseudo_range_s"] == pytest.approx(metrics.ipdv_p999_s(rtts))
    assert first["loss_ci_low"] < first["loss_ratio"] < first["loss_ci_high"]
    assert "rtt_p99_9_s" in agg.columns
    minute = probe_aggregates(data, "1min")
    assert len(minute) == 120 and minute["sent"].sum() == 121 * 50


def test_peak_vs_offpeak_in_local_time(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    # Evening (19:00–23:00 Berlin, UTC+1 in March) is slow, the rest is fast.
    evening = stream_series(
        rng,
        start=T0 + timedelta(hours=18),
        count=20,
        every=timedelta(minutes=10),
        probes=20,
        base_rtt_s=0.080,
        jitter_s=0.0,
    )
    day = stream_series(
        rng,
        start=T0 + timedelta(hours=8),
        count=20,
        every=timedelta(minutes=10),
        probes=20,
        base_rtt_s=0.010,
        jitter_s=0.0,
    )
    data = load(write_store(tmp_path / "s.sqlite", evening + day, {"agent-a": "Europe/Berlin"}))
    prof = get_profile("contract.example", dirs=PROFILES)
    both = peak_offpeak(data, prof, period="evening", window="1d").set_index("period")
    assert both.loc["evening", "rtt_median_s"] == pytest.approx(0.080)
    assert both.loc["off-evening", "rtt_median_s"] == pytest.approx(0.010)
    assert both.loc["evening", "sent"] == 400 and both.loc["off-evening", "sent"] == 400


def test_throughput_aggregates(tmp_path: Path) -> None:
    ms = [throughput(T0 + timedelta(hours=h), (50 + h) * 1e6) for h in range(10)]
    data = load(write_store(tmp_path / "s.sqlite", ms))
    agg = throughput_aggregates(data, "1d")
    assert len(agg) == 1 and agg.iloc[0]["tests"] == 10
    assert agg.iloc[0]["goodput_mean_bps"] == pytest.approx(54.5e6)
    assert agg.iloc[0]["goodput_p10_bps"] == 50e6
