"""Readers for each source format, returning raw frames for :mod:`qos_analysis.load`.

* SQLite stores, read through the store's own column reader
  (:meth:`qos.store.SqliteStore.read_columns`): opened read-only (``mode=ro``) so the agent
  keeps writing, every table from one snapshot, entirely-NULL columns skipped.
* Partitioned datasets (:mod:`qos_analysis.dataset`): the committed batches of every agent.
* Export directories written by ``qos-agent export``: ``measurements``/``probes``/
  ``intervals``/``agents`` as ``.parquet`` or ``.csv``; ``measurements.jsonl`` with one
  versioned record per line (qos.serialization).

Every problem raises :class:`DataError` naming the file (and the line for JSONL).
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from qos.errors import SchemaVersionError, SerializationError, StoreError
from qos.records import SCHEMA_VERSION, Status
from qos.serialization import measurement_from_dict, result_to_dict
from qos.store import ColumnBlock, SqliteStore
from qos.store.columns import MEASUREMENT_INDEX
from qos.store.layout import (
    AGENTS,
    EXPORT_BASENAMES,
    FLOAT64,
    INTERVALS,
    JSONL_AGENTS_FILE,
    MEASUREMENTS,
    PROBES,
    STRING,
    Table,
)

# Every column list and type comes from the one layout definition (qos/store/layout.py).
MEASUREMENT_COLUMNS = MEASUREMENTS.names
PROBE_COLUMNS = PROBES.names[1:]
INTERVAL_COLUMNS = INTERVALS.names[1:]
FLOAT_PROBE_COLUMNS = PROBES.names_of(FLOAT64)
FLOAT_COLUMNS = frozenset(
    FLOAT_PROBE_COLUMNS + INTERVALS.names_of(FLOAT64) + MEASUREMENTS.names_of(FLOAT64)
)
#: Text columns read from CSV as text (an identifier such as "0123" stays as written).
_TEXT_COLUMNS = sorted(
    {name for t in (MEASUREMENTS, PROBES, INTERVALS, AGENTS) for name in t.names_of(STRING)}
)
STATUSES = {str(s) for s in Status}
KINDS = {"rtt", "throughput", "timing"}
SQLITE_MAGIC = b"SQLite format 3\x00"


class DataError(StoreError):
    """A data file is missing or malformed; the message names the file and the problem."""


@dataclass
class RawPart:
    """Frames from one source before combination (probes keyed by measurement_id)."""

    source: str
    measurements: pd.DataFrame
    probes: pd.DataFrame
    intervals: pd.DataFrame
    agents: pd.DataFrame


def read_source(
    path: Path, *, probe_columns: Sequence[str] | None = None, intervals: bool = True
) -> RawPart:
    """One source's frames; a partitioned dataset decodes only ``probe_columns`` of its
    probes when given, and no intervals without ``intervals`` (other formats are read
    whole, the loader selects)."""
    if path.is_dir():
        from qos_analysis.dataset import is_dataset, read_dataset

        if is_dataset(path):
            return read_dataset(path, probe_columns=probe_columns, intervals=intervals)
        return _read_export_dir(path)
    try:
        with path.open("rb") as handle:
            head = handle.read(16)
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror}") from None
    if head == SQLITE_MAGIC:
        return _read_sqlite(path)
    if path.name in EXPORT_BASENAMES or path.suffix in (".parquet", ".csv"):
        if path.name.startswith("measurements."):
            return _read_export_dir(path.parent, only=path.suffix)
        raise DataError(
            f"{path}: expected measurements.parquet/.csv/.jsonl of an export; "
            "pass the export directory instead"
        )
    if path.suffix in (".jsonl", ".json", ".ndjson"):
        return _read_jsonl(path)
    if path.suffix in (".sqlite", ".sqlite3", ".db"):
        raise DataError(f"{path}: not a SQLite database (bad header)")
    raise DataError(
        f"{path}: unknown data format (expected a SQLite store, an export "
        "directory, measurements.parquet/.csv or a .jsonl file)"
    )


# --- SQLite ------------------------------------------------------------------------------------


def _read_sqlite(path: Path) -> RawPart:
    try:
        with SqliteStore(path, readonly=True) as store:
            tables = store.read_columns()
    except SchemaVersionError:
        raise
    except StoreError as exc:
        raise DataError(str(exc)) from None
    meas = pd.DataFrame(
        {name: _measurement_column(tables.measurements, name) for name in MEASUREMENT_COLUMNS}
    )
    ids = meas["measurement_id"].to_numpy(dtype=object)
    probes = _sample_frame(tables.probes, PROBES, ids)
    intervals = _sample_frame(tables.intervals, INTERVALS, ids)
    agents = pd.DataFrame({name: _objects(tables.agents, name) for name in AGENTS.names})
    return RawPart(str(path), meas, probes, intervals, agents)


def _flat(values: Sequence[Any], dtype: type) -> np.ndarray:
    """A NULL-free numeric column (an ``array.array`` from the store) as a NumPy array."""
    if isinstance(values, array) and len(values):
        return np.frombuffer(values, dtype=dtype)
    return np.array(values, dtype=dtype)


def _objects(block: ColumnBlock, name: str) -> np.ndarray:
    values = block[name]
    return (
        np.full(block.length, None, dtype=object)
        if block.all_null(name)
        else np.array(values, dtype=object)
    )


def _measurement_column(block: ColumnBlock, name: str) -> Any:
    if name == "started_at":
        micros = _flat(block[name], np.int64) if block.length else np.empty(0, np.int64)
        return pd.to_datetime(micros, unit="us", utc=True).astype("datetime64[us, UTC]")
    if isinstance(block[name], array):
        return _flat(block[name], np.float64 if name in FLOAT_COLUMNS else np.int64)
    return _objects(block, name)


def _sample_frame(block: ColumnBlock, table: Table, ids: np.ndarray) -> pd.DataFrame:
    """Probes or intervals column-wise: all-NULL columns as zero-memory NaN, floats as
    float64, NULL-free numbers as int64, the rest as objects; the key is categorical."""
    out: dict[str, Any] = {}
    codes = _flat(block[MEASUREMENT_INDEX], np.int64)
    out["measurement_id"] = (
        pd.Categorical.from_codes(codes, categories=pd.Index(ids, dtype=object), validate=False)
        if len(ids)
        else pd.Categorical([])
    )
    for name in table.names[1:]:
        values = block[name]
        if block.all_null(name):
            out[name] = all_missing_float(block.length)
        elif name in FLOAT_COLUMNS:
            out[name] = _flat(values, np.float64)
        elif isinstance(values, array):
            out[name] = _flat(values, np.int64)
        else:
            out[name] = np.array(values, dtype=object)
    return pd.DataFrame(out, columns=list(table.names))


def _frame_from_rows(rows: list[tuple[Any, ...]], columns: Sequence[str]) -> pd.DataFrame:
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    return pd.DataFrame.from_records(rows, columns=list(columns), coerce_float=True)


# --- exports -----------------------------------------------------------------------------------


def _read_export_dir(directory: Path, only: str | None = None) -> RawPart:
    for suffix in (".parquet", ".csv", ".jsonl") if only is None else (only,):
        fmt = suffix[1:]
        main = directory / MEASUREMENTS.file_name(fmt)
        if main.is_file():
            if suffix == ".jsonl":
                return _read_jsonl(main)
            reader = _read_parquet_table if suffix == ".parquet" else read_csv_table
            meas, probes, intervals, agents = (
                reader(
                    directory / table.file_name(fmt), table.names, required=table is MEASUREMENTS
                )
                for table in (MEASUREMENTS, PROBES, INTERVALS, AGENTS)
            )
            meas["started_at"] = utc_timestamps(meas["started_at"], main)
            return RawPart(str(directory), meas, probes, intervals, agents)
    raise DataError(f"{directory}: no {', '.join(EXPORT_BASENAMES)}")


def _read_parquet_table(path: Path, columns: Sequence[str], *, required: bool) -> pd.DataFrame:
    if not path.is_file():
        if required:
            raise DataError(f"{path}: no such file")
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        names = pq.read_schema(path).names
        keyed = "measurement_id" in names and "agent_id" not in columns
        table = pq.read_table(path, read_dictionary=["measurement_id"] if keyed else None)
    except (OSError, pa.ArrowException) as exc:
        raise DataError(f"{path}: not a readable Parquet file: {exc}") from None
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}")
    for name in columns:
        col = table.column(name)
        if pa.types.is_floating(col.type) and pc.any(pc.is_nan(col)).as_py():
            raise DataError(f"{path}: column {name} holds NaN; a missing value must be null")
    if keyed and not pa.types.is_dictionary(table.column("measurement_id").type):
        ids = pc.dictionary_encode(table.column("measurement_id"))
        table = table.set_column(table.column_names.index("measurement_id"), "measurement_id", ids)
    if keyed:
        return _arrow_to_frame(table, columns)
    return table.select(list(columns)).to_pandas()


def _arrow_to_frame(
    table: Any, columns: Sequence[str], absent: Collection[str] = ()
) -> pd.DataFrame:
    """Column-wise Arrow → pandas for the big tables, straight to the loader's dtypes so
    that typing them later copies nothing: all-null columns become NaN arrays without
    materialising millions of Nones; integers with nulls become ``Int64`` and booleans
    with nulls ``boolean`` from the Arrow buffers (not via float or object columns);
    numeric columns convert without copies where Arrow allows; the measurement key stays
    categorical.  ``absent`` columns (known to be all null, not read) are all missing."""
    n = table.num_rows
    out: dict[str, Any] = {}
    for name in columns:
        out[name] = all_missing_float(n) if name in absent else _arrow_column(table.column(name), n)
    return pd.DataFrame(out, columns=list(columns), copy=False)


def _arrow_column(col: Any, n: int) -> Any:
    import pyarrow.types as pat

    if n and col.null_count == n:
        return all_missing_float(n)
    if pat.is_dictionary(col.type):
        if col.null_count == 0:
            return _dictionary_categorical(col, n)
        combined = col.unify_dictionaries().combine_chunks()
        return pd.Categorical.from_codes(
            combined.indices.to_numpy(zero_copy_only=False),
            categories=pd.Index(combined.dictionary.to_pylist(), dtype=object),
            validate=False,
        )
    if pat.is_floating(col.type) or (
        col.null_count == 0 and (pat.is_integer(col.type) or pat.is_boolean(col.type))
    ):
        return _to_numpy(col, n)
    if pat.is_integer(col.type):
        # Fill and concatenate at the stored width, then widen once: a narrow column
        # (int16 TTLs) costs one int64 array, not three.
        values = col.fill_null(0).to_numpy().astype(np.int64, copy=False)
        return pd.arrays.IntegerArray(values, col.is_null().to_numpy())
    if pat.is_boolean(col.type):
        values = col.fill_null(False).to_numpy()
        return pd.arrays.BooleanArray(values, col.is_null().to_numpy())
    return col.to_pandas()


def _to_numpy(col: Any, n: int) -> np.ndarray:
    """``col.to_numpy()`` (a float's nulls as NaN), written chunk by chunk into one array
    NumPy allocates.  pyarrow would concatenate the chunks in a buffer of Arrow's default
    pool (mimalloc, whatever pool is set from Python), which advises transparent huge
    pages: on a virtual machine those 2 MiB faults cost far more than the 4 KiB ones of a
    NumPy array (measured: 0.08–0.43 s against ≈ 0.05 s for two 80 MB columns)."""
    if col.num_chunks == 1:
        return col.chunk(0).to_numpy(zero_copy_only=False)
    if col.num_chunks == 0:
        return col.to_numpy()
    out = np.empty(n, dtype=np.dtype(col.type.to_pandas_dtype()))
    pos = 0
    for chunk in col.chunks:
        out[pos : pos + len(chunk)] = chunk.to_numpy(zero_copy_only=False)
        pos += len(chunk)
    return out


def _dictionary_categorical(col: Any, n: int) -> pd.Categorical:
    """A dictionary-encoded column without nulls (one dictionary per chunk, e.g. per file)
    as a categorical: categories in order of first appearance (as Arrow's
    ``unify_dictionaries`` orders them), codes written chunk by chunk straight into one
    array of the width pandas keeps them in — no unified, combined or widened copy of
    the indices."""
    seen: dict[Any, int] = {}
    mappings = []
    for chunk in col.chunks:
        values = chunk.dictionary.to_pylist()
        mappings.append(np.array([seen.setdefault(v, len(seen)) for v in values], np.int64))
    codes = np.empty(n, dtype=_categorical_code_dtype(len(seen)))
    pos = 0
    for chunk, mapping in zip(col.chunks, mappings, strict=True):
        indices = chunk.indices.to_numpy()
        codes[pos : pos + indices.size] = mapping[indices]
        pos += indices.size
    categories = pd.Index(list(seen), dtype=object)
    return pd.Categorical.from_codes(codes, categories=categories, validate=False)


def _categorical_code_dtype(n_categories: int) -> type[np.signedinteger[Any]]:
    """The code type pandas gives a categorical of ``n_categories`` categories."""
    for dtype in (np.int8, np.int16, np.int32):
        if n_categories < np.iinfo(dtype).max:
            return dtype
    return np.int64


def read_csv_table(path: Path, columns: Sequence[str], *, required: bool) -> pd.DataFrame:
    if not path.is_file():
        if required:
            raise DataError(f"{path}: no such file")
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    try:
        frame = pd.read_csv(
            path,
            keep_default_na=False,
            na_values=[""],
            low_memory=False,
            dtype=dict.fromkeys(_TEXT_COLUMNS, str),
        )
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"{path}: not a readable CSV file: {exc}") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}")
    for name in FLOAT_PROBE_COLUMNS:
        if name in frame.columns:
            raw = frame[name]
            if raw.dtype == object and raw.astype(str).str.lower().isin(["nan"]).any():
                raise DataError(f"{path}: column {name} holds NaN; leave a missing value empty")
            try:
                frame[name] = pd.to_numeric(raw)
            except ValueError as exc:
                raise DataError(f"{path}: column {name}: {exc}") from None
    return frame[list(columns)]


def utc_timestamps(series: pd.Series, path: Path) -> pd.Series:
    try:
        if isinstance(series.dtype, pd.DatetimeTZDtype):
            out = series.dt.tz_convert("UTC")
        else:
            out = pd.to_datetime(series, utc=True, format="ISO8601")
    except (ValueError, TypeError) as exc:
        raise DataError(f"{path}: column started_at: {exc}") from None
    if out.isna().any():
        raise DataError(f"{path}: column started_at has missing timestamps")
    return out.astype("datetime64[us, UTC]")


# --- JSONL ---------------------------------------------------------------------------------------


def _read_jsonl(path: Path) -> RawPart:
    meas_rows: list[dict[str, Any]] = []
    probe_rows: list[tuple[Any, ...]] = []
    interval_rows: list[tuple[Any, ...]] = []
    try:
        handle = path.open("r", encoding="utf-8")
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror}") from None
    with handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                doc = json.loads(line)
                if (
                    isinstance(doc, dict)
                    and isinstance(doc.get("schema_version"), int)
                    and doc["schema_version"] > SCHEMA_VERSION
                ):
                    raise SchemaVersionError(
                        f"{path}:{lineno}: record schema_version {doc['schema_version']} is "
                        f"newer than this qos-toolkit understands ({SCHEMA_VERSION})"
                    )
                if not isinstance(doc, dict):
                    raise SerializationError("a measurement record must be a JSON object")
                m = measurement_from_dict(doc)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{lineno}: not valid JSON: {exc.msg}") from None
            except SerializationError as exc:
                raise DataError(f"{path}:{lineno}: {exc}") from None
            header = None
            if m.result is not None:
                header = result_to_dict(m.result)
                for p in header.pop("probes", []) or []:
                    probe_rows.append((m.id, *p))
                for i in header.pop("intervals", []) or []:
                    interval_rows.append((m.id, *i))
                header.pop("probe_fields", None)
            meas_rows.append(
                {
                    "measurement_id": m.id,
                    "agent_id": m.agent_id,
                    "collector": m.collector,
                    "target": m.target,
                    "started_at": m.started_at,
                    "duration_s": m.duration_s,
                    "status": str(m.status),
                    "error": m.error,
                    "kind": m.kind,
                    "schema_version": m.schema_version,
                    "params_json": json.dumps(dict(m.params), default=str),
                    "labels_json": json.dumps(dict(m.labels)),
                    "result_json": None if header is None else json.dumps(header),
                }
            )
    meas = pd.DataFrame(meas_rows, columns=list(MEASUREMENT_COLUMNS))
    meas["started_at"] = (
        utc_timestamps(meas["started_at"], path)
        if len(meas)
        else pd.Series(dtype="datetime64[us, UTC]")
    )
    probes = _frame_from_rows(probe_rows, PROBES.names)
    intervals = _frame_from_rows(interval_rows, INTERVALS.names)
    agents_path = path.parent / JSONL_AGENTS_FILE
    agents = (
        read_csv_table(agents_path, AGENTS.names, required=False)
        if agents_path.is_file()
        else pd.DataFrame(columns=list(AGENTS.names))
    )
    return RawPart(str(path), meas, probes, intervals, agents)


def all_missing_float(n: int) -> np.ndarray:
    """A read-only, zero-memory column of n NaNs (STAMP-only columns in ICMP data)."""
    return np.broadcast_to(np.float64(np.nan), (n,))


def all_missing_int(n: int) -> Any:
    return pd.arrays.IntegerArray(np.broadcast_to(np.int64(0), (n,)), np.broadcast_to(True, (n,)))
