"""Versioned JSON serialisation of :class:`~qos.records.Measurement` (docs/architecture.md §3).

Every document carries ``schema_version``.  Older versions are upgraded here, in one place;
newer versions are refused with a clear message (flent's data-file rule).  Floats are kept
at full precision (``repr`` round-trip); ``None`` stays ``null``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from qos.errors import SerializationError
from qos.records import (
    SCHEMA_VERSION,
    LossDirection,
    Measurement,
    ProbeSample,
    Result,
    RttResult,
    Status,
    ThroughputInterval,
    ThroughputResult,
    TimingResult,
)

_PROBE_FIELDS = ProbeSample.__slots__


def probe_to_list(probe: ProbeSample) -> list[Any]:
    """Compact positional form used inside documents (millions of probes stay small)."""
    return [
        str(value) if isinstance(value, LossDirection) else value
        for value in (getattr(probe, name) for name in _PROBE_FIELDS)
    ]


def probe_from_list(values: list[Any]) -> ProbeSample:
    if len(values) > len(_PROBE_FIELDS):
        raise SerializationError(f"probe has {len(values)} fields, at most {len(_PROBE_FIELDS)}")
    kwargs = dict(zip(_PROBE_FIELDS, values, strict=False))
    if kwargs.get("lost_direction") is not None:
        kwargs["lost_direction"] = LossDirection(kwargs["lost_direction"])
    return ProbeSample(**kwargs)


def result_to_dict(result: Result) -> dict[str, Any]:
    if isinstance(result, RttResult):
        return {
            "kind": result.kind,
            "interval_s": result.interval_s,
            "timeout_s": result.timeout_s,
            "packet_size_bytes": result.packet_size_bytes,
            "probe_fields": list(_PROBE_FIELDS),
            "probes": [probe_to_list(p) for p in result.probes],
            "details": dict(result.details),
        }
    if isinstance(result, ThroughputResult):
        return {
            "kind": result.kind,
            "direction": result.direction,
            "streams": result.streams,
            "duration_s": result.duration_s,
            "warmup_s": result.warmup_s,
            "bytes_total": result.bytes_total,
            "goodput_bps": result.goodput_bps,
            "intervals": [
                [i.stream, i.start_offset_s, i.duration_s, i.bytes, i.warmup]
                for i in result.intervals
            ],
            "details": dict(result.details),
        }
    if isinstance(result, TimingResult):
        return {
            "kind": result.kind,
            "phases_s": dict(result.phases_s),
            "outcome": result.outcome,
            "details": dict(result.details),
        }
    raise SerializationError(f"unknown result type {type(result).__name__}")


def result_from_dict(data: Mapping[str, Any]) -> Result:
    if not isinstance(data, Mapping):  # e.g. "result": "x" in a hand-edited document
        raise SerializationError(f"a result must be a JSON object, got {type(data).__name__}")
    kind = data.get("kind")
    try:
        if kind == "rtt":
            fields = data.get("probe_fields", list(_PROBE_FIELDS))
            probes = []
            for row in data["probes"]:
                kwargs = dict(zip(fields, row, strict=True))
                if kwargs.get("lost_direction") is not None:
                    kwargs["lost_direction"] = LossDirection(kwargs["lost_direction"])
                probes.append(ProbeSample(**kwargs))
            return RttResult(
                probes=tuple(probes),
                interval_s=data.get("interval_s"),
                timeout_s=data.get("timeout_s"),
                packet_size_bytes=data.get("packet_size_bytes"),
                details=data.get("details") or {},
            )
        if kind == "throughput":
            return ThroughputResult(
                direction=data["direction"],
                streams=int(data["streams"]),
                duration_s=float(data["duration_s"]),
                warmup_s=float(data["warmup_s"]),
                bytes_total=int(data["bytes_total"]),
                goodput_bps=data.get("goodput_bps"),
                intervals=tuple(ThroughputInterval(*row) for row in data.get("intervals", [])),
                details=data.get("details") or {},
            )
        if kind == "timing":
            return TimingResult(
                phases_s=data.get("phases_s") or {},
                outcome=data.get("outcome"),
                details=data.get("details") or {},
            )
    except (KeyError, TypeError, ValueError) as exc:
        raise SerializationError(f"malformed {kind} result: {exc}") from exc
    raise SerializationError(f"unknown result kind {kind!r}")


def measurement_to_dict(m: Measurement) -> dict[str, Any]:
    """Plain-JSON form of a measurement (timestamps as ISO 8601 with ``+00:00``)."""
    return {
        "schema_version": m.schema_version,
        "id": m.id,
        "agent_id": m.agent_id,
        "collector": m.collector,
        "target": m.target,
        "started_at": m.started_at.isoformat(),
        "duration_s": m.duration_s,
        "status": str(m.status),
        "error": m.error,
        "params": _jsonable(dict(m.params)),
        "labels": dict(m.labels),
        "result": None if m.result is None else result_to_dict(m.result),
    }


def _upgrade(data: dict[str, Any]) -> dict[str, Any]:
    """Bring an older document to the current schema (one place for every upgrade)."""
    version = data.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):  # JSON true is not 1
        raise SerializationError("document has no integer 'schema_version'")
    if version > SCHEMA_VERSION:
        raise SerializationError(
            f"record schema_version {version} is newer than this qos-toolkit understands "
            f"({SCHEMA_VERSION}); upgrade qos-toolkit to read it"
        )
    if version < 1:
        raise SerializationError(f"record schema_version {version} is not valid")
    return data


def measurement_from_dict(data: Mapping[str, Any]) -> Measurement:
    doc = _upgrade(dict(data))
    try:
        started = datetime.fromisoformat(doc["started_at"])
        return Measurement(
            id=doc["id"],
            agent_id=doc["agent_id"],
            collector=doc["collector"],
            target=doc["target"],
            started_at=started,
            duration_s=float(doc["duration_s"]),
            status=Status(doc["status"]),
            error=doc.get("error"),
            params=doc.get("params") or {},
            labels=doc.get("labels") or {},
            result=None if doc.get("result") is None else result_from_dict(doc["result"]),
            schema_version=SCHEMA_VERSION,
        )
    except SerializationError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise SerializationError(f"malformed measurement record: {exc!r}") from exc


def dumps(m: Measurement, *, indent: int | None = None) -> str:
    """JSON text of a record; NaN/inf are refused (JSON has no such numbers)."""
    try:
        return json.dumps(measurement_to_dict(m), indent=indent, allow_nan=False)
    except ValueError as exc:
        raise SerializationError(f"measurement {m.id} holds a non-finite number: {exc}") from exc


def loads(text: str | bytes) -> Measurement:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SerializationError(f"not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise SerializationError("a measurement record must be a JSON object")
    return measurement_from_dict(data)


def _jsonable(value: Any) -> Any:
    """Params may hold floats like inf; make them JSON-safe without losing meaning."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value
