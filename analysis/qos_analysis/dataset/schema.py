"""Arrow schemas of the dataset tables and record → Arrow conversion.

The columns and logical types are those of :mod:`qos.store.layout`, the one definition
``qos-agent export --format parquet`` also builds its schema from (a test checks the two
files agree); rows come from :mod:`qos.store.rows`, the store's own record → row codec,
so a record has one row form whether it lands in SQLite, an export or the dataset.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pyarrow as pa

from qos.records import Measurement, RttResult, ThroughputResult
from qos.store.layout import (
    AGENTS,
    BOOL,
    INTERVALS,
    MEASUREMENTS,
    PROBES,
    TIMESTAMP_US_UTC,
    Table,
)
from qos.store.rows import interval_rows, measurement_values, probe_rows

TABLES = (MEASUREMENTS.name, PROBES.name, INTERVALS.name)


def arrow_type(dtype: str) -> pa.DataType:
    """Arrow type of a logical column type of :mod:`qos.store.layout`."""
    if dtype == TIMESTAMP_US_UTC:
        return pa.timestamp("us", tz="UTC")
    return pa.bool_() if dtype == BOOL else getattr(pa, dtype)()


def arrow_schema(table: Table) -> pa.Schema:
    return pa.schema([pa.field(c.name, arrow_type(c.dtype)) for c in table.columns])


SCHEMAS: dict[str, pa.Schema] = {t.name: arrow_schema(t) for t in (MEASUREMENTS, PROBES, INTERVALS)}
AGENTS_SCHEMA = arrow_schema(AGENTS)


def table_from_rows(table: str, rows: Sequence[Sequence[Any]]) -> pa.Table:
    """Rows in the store's export order → an Arrow table of the dataset schema."""
    schema = SCHEMAS[table]
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in schema]
    arrays = []
    for f, values in zip(schema, columns, strict=True):
        items: Sequence[Any] = values
        if pa.types.is_boolean(f.type):  # the store's rows hold 0/1
            items = [None if v is None else bool(v) for v in values]
        arrays.append(pa.array(items, type=f.type))
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
