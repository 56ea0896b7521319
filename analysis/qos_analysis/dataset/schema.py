"""Arrow schemas of the dataset tables and record → Arrow conversion.

The columns and types are those of ``qos-agent export --format parquet`` (a test checks the
two stay equal); rows come from :mod:`qos.store.rows`, the store's own record → row codec,
so a record has one row form whether it lands in SQLite, an export or the dataset.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pyarrow as pa

from qos.records import Measurement, RttResult, ThroughputResult
from qos.store.rows import interval_rows, measurement_values, probe_rows
from qos.store.schema import INTERVAL_COLUMNS, PROBE_COLUMNS

TABLES = ("measurements", "probes", "intervals")

_MEASUREMENT_FIELDS: list[tuple[str, pa.DataType]] = [
    ("measurement_id", pa.string()),
    ("agent_id", pa.string()),
    ("collector", pa.string()),
    ("target", pa.string()),
    ("started_at", pa.timestamp("us", tz="UTC")),
    ("duration_s", pa.float64()),
    ("status", pa.string()),
    ("error", pa.string()),
    ("kind", pa.string()),
    ("schema_version", pa.int32()),
    ("params_json", pa.string()),
    ("labels_json", pa.string()),
    ("result_json", pa.string()),
]
_PROBE_TYPES: dict[str, pa.DataType] = {
    "seq": pa.int64(),
    "send_offset_s": pa.float64(),
    "rtt_s": pa.float64(),
    "ttl": pa.int16(),
    "duplicates": pa.int32(),
    "size_bytes": pa.int32(),
    "forward_delay_s": pa.float64(),
    "backward_delay_s": pa.float64(),
    "reflector_residence_s": pa.float64(),
    "lost_direction": pa.string(),
    "one_way_valid": pa.bool_(),
    "reflector_ttl": pa.int16(),
}
_INTERVAL_TYPES: dict[str, pa.DataType] = {
    "stream": pa.int32(),
    "start_offset_s": pa.float64(),
    "duration_s": pa.float64(),
    "bytes": pa.int64(),
    "warmup": pa.bool_(),
}

SCHEMAS: dict[str, pa.Schema] = {
    "measurements": pa.schema(_MEASUREMENT_FIELDS),
    "probes": pa.schema(
        [("measurement_id", pa.string()), *((c, _PROBE_TYPES[c]) for c in PROBE_COLUMNS)]
    ),
    "intervals": pa.schema(
        [("measurement_id", pa.string()), *((c, _INTERVAL_TYPES[c]) for c in INTERVAL_COLUMNS)]
    ),
}
AGENTS_SCHEMA = pa.schema([("agent_id", pa.string()), ("timezone", pa.string())])


def table_from_rows(table: str, rows: Sequence[Sequence[Any]]) -> pa.Table:
    """Rows in the store's export order → an Arrow table of the dataset schema."""
    schema = SCHEMAS[table]
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in schema]
    arrays = []
    for f, values in zip(schema, columns, strict=True):
        if pa.types.is_boolean(f.type):
            values = [None if v is None else bool(v) for v in values]
        arrays.append(pa.array(values, type=f.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def tables_from_measurements(records: Iterable[Measurement]) -> dict[str, pa.Table]:
    """Records → the three dataset tables (probes and intervals keyed by measurement id)."""
    meas: list[tuple[Any, ...]] = []
    probes: list[tuple[Any, ...]] = []
    intervals: list[tuple[Any, ...]] = []
    for m in records:
        meas.append(measurement_values(m))
        if isinstance(m.result, RttResult):
            probes.extend(probe_rows(m.id, m.result.probes))  # type: ignore[arg-type]
        elif isinstance(m.result, ThroughputResult):
            intervals.extend(interval_rows(m.id, m.result.intervals))  # type: ignore[arg-type]
    return {
        "measurements": table_from_rows("measurements", meas),
        "probes": table_from_rows("probes", probes),
        "intervals": table_from_rows("intervals", intervals),
    }
