"""qos.records: the Measurement envelope and per-kind results (docs/architecture.md §2–3)."""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, datetime, timedelta, timezone

import pytest

from qos.records import (
    RESULT_TYPES,
    SCHEMA_VERSION,
    LossDirection,
    ProbeSample,
    RttResult,
    Status,
    ThroughputInterval,
    ThroughputResult,
    TimingResult,
    new_measurement_id,
    utc_now,
)
from tests.factories import T0, measurement


def test_naive_start_time_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        measurement(started_at=datetime(2026, 1, 1, 12, 0))


def test_aware_start_time_is_converted_to_utc_keeping_the_instant() -> None:
    cet = timezone(timedelta(hours=1))
    m = measurement(started_at=datetime(2026, 1, 1, 13, 0, tzinfo=cet))
    assert m.started_at.tzinfo is UTC
    assert m.started_at == T0
    assert (m.started_at.hour, m.started_at.minute) == (12, 0)


def test_utc_now_is_aware_utc() -> None:
    now = utc_now()
    assert now.utcoffset() == timedelta(0)


@pytest.mark.parametrize("status", ["ok", "timeout", "unreachable", "error", "skipped"])
def test_status_strings_are_coerced(status: str) -> None:
    m = measurement(status=status)
    assert isinstance(m.status, Status)
    assert m.status == status
    assert m.ok is (status == "ok")


def test_unknown_status_is_refused() -> None:
    with pytest.raises(ValueError, match="'fine'"):
        measurement(status="fine")


@pytest.mark.parametrize("duration", [-0.001, math.nan, math.inf])
def test_duration_must_be_finite_and_non_negative(duration: float) -> None:
    with pytest.raises(ValueError, match="duration_s"):
        measurement(duration_s=duration)


def test_defaults_id_and_schema_version() -> None:
    a, b = measurement(), measurement()
    assert a.id != b.id
    assert len(a.id) == 32 and int(a.id, 16) >= 0
    assert a.schema_version == SCHEMA_VERSION == 1
    assert a.result is None and a.kind is None
    assert len(new_measurement_id()) == 32


def test_measurement_is_immutable() -> None:
    m = measurement(params={"count": 10}, labels={"site": "home"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.status = Status.ERROR  # type: ignore[misc]
    with pytest.raises(TypeError):
        m.params["count"] = 11  # type: ignore[index]
    with pytest.raises(TypeError):
        m.labels["site"] = "work"  # type: ignore[index]


def test_mappings_are_copied_so_the_caller_cannot_change_a_record() -> None:
    params = {"count": 10}
    labels = {"site": "home"}
    details = {"note": "a"}
    phases = {"dns_s": 0.01}
    m = measurement(params=params, labels=labels)
    r = TimingResult(phases_s=phases, details=details)
    params["count"] = 99
    labels["site"] = "work"
    details["note"] = "b"
    phases["dns_s"] = 1.0
    assert m.params["count"] == 10
    assert m.labels["site"] == "home"
    assert r.details["note"] == "a"
    assert r.phases_s["dns_s"] == 0.01


def test_rtt_result_keeps_every_probe_and_counts() -> None:
    probes = [
        ProbeSample(seq=0, send_offset_s=0.0, rtt_s=0.010, ttl=64),
        ProbeSample(seq=1, send_offset_s=0.020, rtt_s=None, lost_direction=LossDirection.UNKNOWN),
        ProbeSample(seq=2, send_offset_s=0.040, rtt_s=0.012, duplicates=2),
    ]
    result = RttResult(probes=probes, interval_s=0.02, timeout_s=1.0)  # a list is accepted
    assert isinstance(result.probes, tuple)
    assert result.sent == 3
    assert result.received == 2
    assert [p.lost for p in result.probes] == [False, True, False]
    assert result.kind == "rtt"
    m = measurement(result=result)
    assert m.kind == "rtt"
    with pytest.raises(dataclasses.FrozenInstanceError):
        probes[0].rtt_s = 1.0  # type: ignore[misc]


def test_a_lost_probe_is_none_not_zero() -> None:
    assert ProbeSample(seq=0, send_offset_s=0.0, rtt_s=0.0).lost is False
    assert ProbeSample(seq=0, send_offset_s=0.0, rtt_s=None).lost is True


def test_throughput_interval_rate() -> None:
    interval = ThroughputInterval(stream=0, start_offset_s=1.0, duration_s=0.5, bytes=625_000)
    assert interval.rate_bps == 10e6
    assert math.isnan(ThroughputInterval(0, 0.0, 0.0, 100).rate_bps)


def test_throughput_result() -> None:
    result = ThroughputResult(
        direction="download",
        streams=2,
        duration_s=10.0,
        warmup_s=2.0,
        bytes_total=10**8,
        goodput_bps=1e8 * 8 / 8,
        intervals=[ThroughputInterval(-1, 2.0, 1.0, 10**7, warmup=False)],
    )
    assert isinstance(result.intervals, tuple)
    assert result.kind == "throughput"


def test_timing_result() -> None:
    result = TimingResult(phases_s={"dns_s": 0.004, "connect_s": None}, outcome="NOERROR")
    assert result.kind == "timing"
    assert result.phases_s["connect_s"] is None


def test_result_registry_names_every_kind() -> None:
    assert {
        "rtt": RttResult,
        "throughput": ThroughputResult,
        "timing": TimingResult,
    } == RESULT_TYPES
    for kind, cls in RESULT_TYPES.items():
        assert cls.kind == kind


def test_status_and_direction_values_are_the_documented_strings() -> None:
    assert [str(s) for s in Status] == ["ok", "timeout", "unreachable", "error", "skipped"]
    assert [str(d) for d in LossDirection] == ["forward", "backward", "unknown"]


def test_records_compare_by_value() -> None:
    a = measurement(id="x", params={"count": 1}, result=TimingResult(phases_s={"a": 1.0}))
    b = measurement(id="x", params={"count": 1}, result=TimingResult(phases_s={"a": 1.0}))
    assert a == b
    assert a != dataclasses.replace(b, target="::1")
