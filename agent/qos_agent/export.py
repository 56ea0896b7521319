"""Batch export of a store to Parquet, CSV or JSON Lines (``qos-agent export``).

Layout (the contract ``qos_analysis.load`` reads): an output directory holding
``measurements``, ``probes``, ``intervals`` and ``agents`` tables as ``.parquet`` or ``.csv``
files, keyed by ``measurement_id``; ``started_at`` is a UTC timestamp (Parquet
``timestamp[us, UTC]``, CSV ISO 8601).  ``jsonl`` writes ``measurements.jsonl`` with one
full versioned record per line (qos.serialization) and ``agents.csv`` (time zones).
Parquet needs pyarrow (the ``analysis`` extra); it is imported only here, when asked for.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import Any

from qos.errors import QosError
from qos.serialization import dumps
from qos.store import SqliteStore
from qos.store.sqlite import from_epoch_us
from qos.text_safety import protect_csv_cell

TABLES = ("measurements", "probes", "intervals", "agents")
FORMATS = ("parquet", "csv", "jsonl")
_BATCH_ROWS = 200_000


def export_store(
    store: SqliteStore,
    output: Path,
    fmt: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, int]:
    """Write the store's tables under ``output``; returns rows written per table."""
    if fmt not in FORMATS:
        raise QosError(f"unknown export format '{fmt}' (choose {', '.join(FORMATS)})")
    output.mkdir(parents=True, exist_ok=True)
    if fmt == "jsonl":
        counts = {"measurements": _export_jsonl(store, output / "measurements.jsonl", since, until)}
        # the agents' time zones travel beside the records (local-time windows need them)
        columns, rows = store.export_rows("agents")
        tmp = output / "agents.csv.tmp"
        counts["agents"] = _write_csv(tmp, columns, rows)
        os.replace(tmp, output / "agents.csv")
        return counts
    counts = {}
    for table in TABLES:
        columns, rows = store.export_rows(table, since=since, until=until)
        target = output / f"{table}.{fmt}"
        tmp = target.with_name(target.name + ".tmp")
        if fmt == "csv":
            counts[table] = _write_csv(tmp, columns, rows)
        else:
            counts[table] = _write_parquet(tmp, table, columns, rows)
        os.replace(tmp, target)  # readers never see a half-written file
    return counts


def _export_jsonl(
    store: SqliteStore, path: Path, since: datetime | None, until: datetime | None
) -> int:
    tmp = path.with_name(path.name + ".tmp")
    count = 0
    with tmp.open("w", encoding="utf-8") as fh:
        for m in store.iter_measurements(since=since, until=until):
            fh.write(dumps(m) + "\n")
            count += 1
    os.replace(tmp, path)
    return count


def _timestamp_columns(columns: list[str]) -> list[str]:
    return ["started_at" if c == "started_at_us" else c for c in columns]


def _csv_cell(value: Any) -> Any:
    """A CSV cell: floats exact (``repr``), text neutralised and protected against formula
    injection (:func:`qos.text_safety.protect_csv_cell`), never cut (an export loses nothing;
    JSON columns are already free of control characters)."""
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return protect_csv_cell(value, max_length=max(len(value), 1) * 6)
    return value


def _write_csv(path: Path, columns: list[str], rows: Iterator[tuple[Any, ...]]) -> int:
    ts_index = columns.index("started_at_us") if "started_at_us" in columns else None
    count = 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(_timestamp_columns(columns))
        for row in rows:
            values = list(row)
            if ts_index is not None:
                values[ts_index] = from_epoch_us(values[ts_index]).isoformat()
            writer.writerow([_csv_cell(v) for v in values])
            count += 1
    return count


_ARROW_TYPES = {
    "measurement_id": "string",
    "agent_id": "string",
    "collector": "string",
    "target": "string",
    "duration_s": "float64",
    "status": "string",
    "error": "string",
    "kind": "string",
    "schema_version": "int32",
    "params_json": "string",
    "labels_json": "string",
    "result_json": "string",
    "seq": "int64",
    "send_offset_s": "float64",
    "rtt_s": "float64",
    "ttl": "int16",
    "duplicates": "int32",
    "size_bytes": "int32",
    "forward_delay_s": "float64",
    "backward_delay_s": "float64",
    "reflector_residence_s": "float64",
    "lost_direction": "string",
    "one_way_valid": "bool_",
    "reflector_ttl": "int16",
    "stream": "int32",
    "start_offset_s": "float64",
    "bytes": "int64",
    "warmup": "bool_",
    "timezone": "string",
}


def _write_parquet(
    path: Path, table: str, columns: list[str], rows: Iterator[tuple[Any, ...]]
) -> int:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise QosError(
            "Parquet export needs pyarrow: pip install 'qos-toolkit[analysis]'"
        ) from None
    fields = []
    for name in columns:
        if name == "started_at_us":
            fields.append(pa.field("started_at", pa.timestamp("us", tz="UTC")))
        else:
            fields.append(pa.field(name, getattr(pa, _ARROW_TYPES[name])()))
    schema = pa.schema(fields)
    count = 0
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        while True:
            batch = list(islice(rows, _BATCH_ROWS))
            if not batch and count:
                break
            arrays = []
            for index, f in enumerate(schema):
                values = [r[index] for r in batch]
                if f.type in (pa.bool_(),):
                    values = [None if v is None else bool(v) for v in values]
                arrays.append(pa.array(values, type=f.type))
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
            count += len(batch)
            if not batch:
                break
    return count
