"""Batch export of a store to Parquet, CSV or JSON Lines (``qos-agent export``).

The layout (file names, columns, types) is :mod:`qos.store.layout`, the contract
``qos_analysis.load`` reads: an output directory holding the ``measurements``, ``probes``,
``intervals`` and ``agents`` tables as ``.parquet`` or ``.csv`` files, keyed by
``measurement_id``; ``started_at`` is a UTC timestamp (Parquet ``timestamp[us, UTC]``, CSV
ISO 8601).  ``jsonl`` writes one full versioned record per line (qos.serialization) and the
agents' time zones beside it.  Parquet needs pyarrow (the ``analysis`` extra); it is imported
only here, when asked for, and its schema is built from the layout's logical types.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from datetime import datetime
from functools import partial
from itertools import islice
from pathlib import Path
from typing import Any

from qos.durable import atomic_write
from qos.errors import QosError
from qos.serialization import dumps
from qos.store import SqliteStore
from qos.store.layout import (
    AGENTS,
    BOOL,
    FORMATS,
    JSONL_AGENTS_FILE,
    JSONL_FILE,
    TABLES,
    TIMESTAMP_US_UTC,
    Table,
)
from qos.store.sqlite import from_epoch_us
from qos.text_safety import protect_csv_cell

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
        counts = {"measurements": _export_jsonl(store, output / JSONL_FILE, since, until)}
        # the agents' time zones travel beside the records (local-time windows need them)
        _, rows = store.export_rows(AGENTS.name)
        counts[AGENTS.name] = _replace(
            output / JSONL_AGENTS_FILE, partial(_write_csv, table=AGENTS, rows=rows)
        )
        return counts
    counts = {}
    for table in TABLES:
        _, rows = store.export_rows(table.name, since=since, until=until)
        write = _write_csv if fmt == "csv" else _write_parquet
        target = output / table.file_name(fmt)
        counts[table.name] = _replace(target, partial(write, table=table, rows=rows))
    return counts


def _replace(target: Path, write: Callable[[Path], int]) -> int:
    """Write ``target`` atomically (readers never see a half-written file); the row count."""
    written: list[int] = []
    atomic_write(target, lambda tmp: written.append(write(tmp)))
    return written[0]


def _export_jsonl(
    store: SqliteStore, path: Path, since: datetime | None, until: datetime | None
) -> int:
    def write(tmp: Path) -> int:
        count = 0
        with tmp.open("w", encoding="utf-8") as fh:
            for m in store.iter_measurements(since=since, until=until):
                fh.write(dumps(m) + "\n")
                count += 1
        return count

    return _replace(path, write)


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


def _write_csv(path: Path, table: Table, rows: Iterator[tuple[Any, ...]]) -> int:
    stamps = [i for i, c in enumerate(table.columns) if c.dtype == TIMESTAMP_US_UTC]
    count = 0
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(table.names)
        for row in rows:
            values = list(row)
            for index in stamps:
                values[index] = from_epoch_us(values[index]).isoformat()
            writer.writerow([_csv_cell(v) for v in values])
            count += 1
    return count


def arrow_schema(table: Table) -> Any:
    """The Parquet schema of ``table``, from the layout's logical types."""
    import pyarrow as pa

    def arrow_type(dtype: str) -> Any:
        if dtype == TIMESTAMP_US_UTC:
            return pa.timestamp("us", tz="UTC")
        return pa.bool_() if dtype == BOOL else getattr(pa, dtype)()

    return pa.schema([pa.field(c.name, arrow_type(c.dtype)) for c in table.columns])


def _write_parquet(path: Path, table: Table, rows: Iterator[tuple[Any, ...]]) -> int:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise QosError(
            "Parquet export needs pyarrow: pip install 'qos-toolkit[analysis]'"
        ) from None
    schema = arrow_schema(table)
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
