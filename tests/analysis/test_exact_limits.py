"""Regulator rules decided exactly at their limits: one test at the limit, one either side.

A limit such as FCC CAF's "≥ 95 % of latency tests ≤ 100 ms" is a legal counting rule.  A
campaign with exactly 2394 of 2520 tests within 100 ms meets it; one test fewer does not.
Floating point must not decide such a case (95 × 0.01 = 0.9500000000000001 > 2394/2520).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from qos.records import Measurement, ProbeSample
from qos_analysis import load, score
from tests.analysis.synthetic import T0, bnetza_campaign, throughput, write_store
from tests.factories import measurement, rtt_result

ROOT = Path(__file__).resolve().parents[2]
PROFILES = [ROOT / "configs" / "profiles"]
FCC_PARAMS = {"required_download": "25Mbit/s", "required_upload": "3Mbit/s"}
BNETZA_PARAMS = {
    "download_max": "100Mbit/s",
    "download_normal": "80Mbit/s",
    "download_min": "50Mbit/s",
    "upload_max": "40Mbit/s",
    "upload_normal": "30Mbit/s",
    "upload_min": "15Mbit/s",
}


def _verdicts(tmp_path: Path, name: str, ms: list[Measurement], profile: str, params: Any):
    from qos.profiles import get_profile

    path = write_store(tmp_path / f"{name}.sqlite", ms, {"agent-a": "UTC"})
    frame = score(load(path), get_profile(profile, dirs=PROFILES), params=params)
    return {row["objective"]: row for _, row in frame.iterrows()}


def _latency_week(within: int, total: int = 2520, *, at_limit: int = 0) -> list[Measurement]:
    """``total`` latency tests in the 18–24 h window of one week, ``within`` of them
    ≤ 100 ms (``at_limit`` of those exactly 100 ms), the rest 150 ms."""
    rtts = [0.1] * at_limit + [0.05] * (within - at_limit) + [0.15] * (total - within)
    per_test = 60  # one measurement = 60 one-per-minute probes of an evening hour
    out = []
    for index in range(0, total, per_test):
        day, hour = divmod(index // per_test, 6)
        chunk = rtts[index : index + per_test]
        probes = tuple(
            ProbeSample(seq=i, send_offset_s=60.0 * i, rtt_s=rtt, ttl=64)
            for i, rtt in enumerate(chunk)
        )
        out.append(
            measurement(
                agent_id="agent-a",
                target="198.18.0.1",
                started_at=T0 + timedelta(days=day, hours=18 + hour),
                duration_s=60.0 * len(chunk),
                result=rtt_result(probes, interval_s=60.0),
            )
        )
    return out


@pytest.mark.parametrize(("within", "outcome"), [(2393, "fail"), (2394, "pass"), (2395, "pass")])
def test_fcc_latency_share_exactly_at_95_percent(tmp_path: Path, within: int, outcome: str) -> None:
    v = _verdicts(tmp_path, str(within), _latency_week(within), "fcc-caf", FCC_PARAMS)
    lat = v["latency-95-100ms"]
    assert lat["n_samples"] == 2520
    assert lat["outcome"] == outcome, lat["reason"]
    assert f"{within:,}/2,520" in lat["reason"]


def test_fcc_latency_of_exactly_100ms_counts_as_within(tmp_path: Path) -> None:
    ms = _latency_week(2394, at_limit=500)
    assert (
        _verdicts(tmp_path, "edge", ms, "fcc-caf", FCC_PARAMS)["latency-95-100ms"]["outcome"]
        == "pass"
    )


def _speed_tests(speeds_bps: list[float]) -> list[Measurement]:
    times = [T0 + timedelta(days=d, hours=18 + h) for d in range(8) for h in range(6)]
    return [throughput(t, s) for t, s in zip(times, speeds_bps, strict=False)]


@pytest.mark.parametrize(("meeting", "outcome"), [(35, "fail"), (36, "pass"), (37, "pass")])
def test_fcc_speed_80_80_exactly_at_80_percent(tmp_path: Path, meeting: int, outcome: str) -> None:
    # 36 of 45 tests is exactly 80 %; a test at exactly 80 % of 25 Mbit/s (20 Mbit/s) meets.
    speeds = [20e6] * meeting + [19.99e6] * (45 - meeting)
    v = _verdicts(tmp_path, str(meeting), _speed_tests(speeds), "fcc-caf", FCC_PARAMS)
    assert v["download-80-80"]["n_samples"] == 45
    assert v["download-80-80"]["outcome"] == outcome, v["download-80-80"]["reason"]


def _bnetza(tmp_path: Path, name: str, speeds_mbps: list[float]) -> dict[str, pd.Series]:
    ms = bnetza_campaign([s * 1e6 for s in speeds_mbps])
    path = write_store(tmp_path / f"{name}.sqlite", ms, {"agent-a": "Europe/Berlin"})
    from qos.profiles import get_profile

    frame = score(load(path), get_profile("bnetza-fixed", dirs=PROFILES), params=BNETZA_PARAMS)
    return {row["objective"]: row for _, row in frame.iterrows()}


@pytest.mark.parametrize(("meeting", "outcome"), [(26, "fail"), (27, "pass"), (28, "pass")])
def test_bnetza_normal_speed_in_90_percent_of_tests(
    tmp_path: Path, meeting: int, outcome: str
) -> None:
    # Exactly the normal speed (80 Mbit/s) meets it; 79.99 Mbit/s does not.
    v = _bnetza(tmp_path, str(meeting), [80.0] * meeting + [79.99] * (30 - meeting))
    assert v["download-normal"]["outcome"] == outcome, v["download-normal"]["reason"]


@pytest.mark.parametrize(("days", "outcome"), [(1, "fail"), (2, "pass"), (3, "pass")])
def test_bnetza_90_percent_of_maximum_on_two_days(tmp_path: Path, days: int, outcome: str) -> None:
    # One test a day at exactly 90 % of 100 Mbit/s on ``days`` of the 3 days.
    speeds: list[float] = []
    for day in range(3):
        speeds += ([90.0] if day < days else [89.99]) + [85.0] * 9
    v = _bnetza(tmp_path, f"max{days}", speeds)
    assert v["download-max"]["value"] == days
    assert v["download-max"]["outcome"] == outcome, v["download-max"]["reason"]


@pytest.mark.parametrize(("days", "outcome"), [(0, "pass"), (1, "pass"), (2, "fail")])
def test_bnetza_minimum_undershot_on_two_days(tmp_path: Path, days: int, outcome: str) -> None:
    # Exactly the minimum (50 Mbit/s) is not an undershoot; 49.99 Mbit/s is.
    speeds: list[float] = []
    for day in range(3):
        speeds += ([49.99] if day < days else [50.0]) + [85.0] * 9
    v = _bnetza(tmp_path, f"min{days}", speeds)
    assert v["download-min"]["value"] == days
    assert v["download-min"]["outcome"] == outcome, v["download-min"]["reason"]
