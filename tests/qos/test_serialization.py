"""qos.serialization: versioned JSON of a Measurement (docs/architecture.md §3).

Round trips are exact for every result kind; a newer ``schema_version`` is refused with a
message saying what to do; anything malformed is a SerializationError, never a crash with a
stray AttributeError or a half-read record.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings

from qos.errors import QosError, SerializationError
from qos.records import (
    SCHEMA_VERSION,
    LossDirection,
    Measurement,
    ProbeSample,
    RttResult,
    Status,
    ThroughputInterval,
)
from qos.serialization import (
    dumps,
    loads,
    measurement_from_dict,
    measurement_to_dict,
    probe_from_list,
    probe_to_list,
)
from tests.factories import measurement, rtt_result, throughput_result, unanswered_dns
from tests.qos import strategies

T0 = datetime(2026, 3, 1, 8, 30, 0, 123456, tzinfo=UTC)


def _rtt_measurement() -> Measurement:
    return measurement(
        collector="stamp",
        target="127.0.0.1:862",
        started_at=T0,
        duration_s=0.5,
        result=rtt_result(
            (
                ProbeSample(0, 0.0, 0.0101, ttl=64, forward_delay_s=0.005, one_way_valid=True),
                ProbeSample(1, 0.02, None, lost_direction=LossDirection.FORWARD),
                ProbeSample(2, 0.04, None, lost_direction=LossDirection.BACKWARD),
                ProbeSample(3, 0.06, 0.0099, duplicates=1, reflector_residence_s=1e-5),
            ),
            packet_size_bytes=44,
            details={"reflector": "stateful"},
        ),
        params={"count": 4, "interval": "20ms"},
        labels={"site": "home"},
    )


@given(strategies.measurements)
@settings(max_examples=300, deadline=None)
def test_round_trip_is_exact_for_every_kind(m: Measurement) -> None:
    text = dumps(m)
    back = loads(text)
    assert back == m
    assert back.kind == m.kind
    assert back.started_at.tzinfo is UTC
    assert dumps(back) == text  # stable: serialising again gives the same document


@given(strategies.measurements)
@settings(max_examples=100, deadline=None)
def test_document_is_plain_json_with_version(m: Measurement) -> None:
    doc = json.loads(dumps(m, indent=2))
    assert doc["schema_version"] == SCHEMA_VERSION
    assert doc["started_at"].endswith("+00:00")
    assert doc["status"] in {"ok", "timeout", "unreachable", "error", "skipped"}


def test_known_record_round_trips_with_none_rtts_and_loss_directions() -> None:
    m = _rtt_measurement()
    back = loads(dumps(m))
    assert back == m
    assert isinstance(back.result, RttResult)
    assert [p.rtt_s for p in back.result.probes] == [0.0101, None, None, 0.0099]
    assert back.result.probes[1].lost_direction is LossDirection.FORWARD
    assert back.result.probes[2].lost_direction is LossDirection.BACKWARD
    assert back.result.probes[0].one_way_valid is True
    assert back.started_at == T0  # microseconds kept


def test_floats_keep_full_precision() -> None:
    m = _rtt_measurement()
    doc = json.loads(dumps(m))
    assert doc["result"]["probes"][0][2] == 0.0101
    tricky = 0.1 + 0.2  # 0.30000000000000004 must not become 0.3
    m2 = Measurement("a", "c", "t", T0, tricky, Status.OK)
    assert loads(dumps(m2)).duration_s == tricky


def test_throughput_and_timing_round_trip() -> None:
    tput = measurement(
        agent_id="a",
        collector="iperf3",
        target="127.0.0.1:5201",
        started_at=T0,
        duration_s=12.0,
        result=throughput_result(
            125_000_000,
            100e6,
            streams=2,
            warmup_s=2.0,
            intervals=(
                ThroughputInterval(0, 0.0, 1.0, 1000, True),
                ThroughputInterval(1, 0.0, 1.0, 7),
            ),
        ),
    )
    timing = unanswered_dns(agent_id="a", target="example.invalid", started_at=T0, duration_s=0.1)
    for m in (tput, timing):
        assert loads(dumps(m)) == m


def test_probe_list_form_round_trips() -> None:
    probe = ProbeSample(7, 0.14, None, lost_direction=LossDirection.UNKNOWN, reflector_ttl=255)
    values = probe_to_list(probe)
    assert values[9] == "unknown"
    assert probe_from_list(values) == probe
    assert probe_from_list([1, 0.0, 0.001]) == ProbeSample(1, 0.0, 0.001)
    with pytest.raises(SerializationError, match="at most 12"):
        probe_from_list([0] * 13)


def test_non_finite_params_stay_meaningful() -> None:
    m = Measurement("a", "c", "t", T0, 0.0, "ok", params={"timeout": float("inf")})
    assert json.loads(dumps(m))["params"]["timeout"] == "inf"


def test_newer_schema_version_is_refused_clearly() -> None:
    doc = measurement_to_dict(_rtt_measurement())
    doc["schema_version"] = SCHEMA_VERSION + 1
    with pytest.raises(SerializationError) as info:
        measurement_from_dict(doc)
    message = str(info.value)
    assert f"schema_version {SCHEMA_VERSION + 1}" in message
    assert f"({SCHEMA_VERSION})" in message
    assert "upgrade qos-toolkit" in message


def _doc() -> dict[str, Any]:
    return measurement_to_dict(_rtt_measurement())


def _with(path: tuple[str | int, ...], value: Any, *, delete: bool = False) -> dict[str, Any]:
    doc = _doc()
    node: Any = doc
    for key in path[:-1]:
        node = node[key]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return doc


MALFORMED = {
    "no schema_version": _with(("schema_version",), None, delete=True),
    "schema_version string": _with(("schema_version",), "1"),
    "schema_version bool": _with(("schema_version",), True),
    "schema_version zero": _with(("schema_version",), 0),
    "missing id": _with(("id",), None, delete=True),
    "missing started_at": _with(("started_at",), None, delete=True),
    "naive started_at": _with(("started_at",), "2026-03-01T08:30:00"),
    "garbage started_at": _with(("started_at",), "yesterday"),
    "numeric started_at": _with(("started_at",), 12345),
    "unknown status": _with(("status",), "fine"),
    "negative duration": _with(("duration_s",), -1.0),
    "null duration": _with(("duration_s",), None),
    "labels not an object": _with(("labels",), "home"),
    "params a list of numbers": _with(("params",), [1, 2]),
    "result a string": _with(("result",), "rtt"),
    "result a list": _with(("result",), [1, 2]),
    "unknown result kind": _with(("result", "kind"), "weather"),
    "missing probes": _with(("result", "probes"), None, delete=True),
    "probe row too long": _with(("result", "probes", 0), [0] * 13),
    "probe row too short": _with(("result", "probes", 0), [0, 0.0]),
    "unknown probe field": _with(("result", "probe_fields", 0), "sequence"),
    "unknown loss direction": _with(("result", "probes", 1, 9), "sideways"),
    "details not an object": _with(("result", "details"), [1]),
}


@pytest.mark.parametrize("doc", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_documents_raise_serialization_error(doc: dict[str, Any]) -> None:
    with pytest.raises(SerializationError):
        measurement_from_dict(doc)
    with pytest.raises(SerializationError):
        loads(json.dumps(doc))


@pytest.mark.parametrize(
    "result",
    [
        {"kind": "throughput", "direction": "upload"},
        {
            "kind": "throughput",
            "direction": "upload",
            "streams": "two",
            "duration_s": 1,
            "warmup_s": 0,
            "bytes_total": 1,
        },
        {
            "kind": "throughput",
            "direction": "upload",
            "streams": 1,
            "duration_s": 1,
            "warmup_s": 0,
            "bytes_total": 1,
            "intervals": [[0, 0.0]],
        },
        {"kind": "timing", "phases_s": [1, 2]},
        {"kind": None},
    ],
)
def test_malformed_results_raise_serialization_error(result: dict[str, Any]) -> None:
    doc = _doc()
    doc["result"] = result
    with pytest.raises(SerializationError):
        measurement_from_dict(doc)


@pytest.mark.parametrize("text", ["", "{", "[]", "42", "null", '"a record"', b"\xff\xfe"])
def test_non_objects_and_bad_json_raise_serialization_error(text: str | bytes) -> None:
    with pytest.raises(SerializationError):
        loads(text)


def test_serialization_error_is_part_of_the_error_tree() -> None:
    assert issubclass(SerializationError, QosError)
