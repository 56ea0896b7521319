"""Readers for each source format, returning raw frames for :mod:`qos_analysis.load`.

* SQLite stores (``qos.store.sqlite`` layout), opened read-only (``mode=ro``) so the agent
  keeps writing; each table is read with one SELECT, entirely-NULL columns are skipped.
* Partitioned datasets (:mod:`qos_analysis.dataset`): the committed batches of every agent.
* Export directories written by ``qos-agent export``: ``measurements``/``probes``/
  ``intervals``/``agents`` as ``.parquet`` or ``.csv``; ``measurements.jsonl`` with one
  versioned record per line (qos.serialization).

Every problem raises :class:`DataError` naming the file (and the line for JSONL).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from qos.errors import SchemaVersionError, SerializationError, StoreError
from qos.records import SCHEMA_VERSION, Status
from qos.serialization import measurement_from_dict, result_to_dict
from qos.store.sqlite import INTERVAL_COLUMNS, PROBE_COLUMNS, STORE_SCHEMA_VERSION

MEASUREMENT_COLUMNS = (
    "measurement_id",
    "agent_id",
    "collector",
    "target",
    "started_at",
    "duration_s",
    "status",
    "error",
    "kind",
    "schema_version",
    "params_json",
    "labels_json",
    "result_json",
)
# The store's own column lists: one definition of the layout (qos/store/schema.py).
FLOAT_PROBE_COLUMNS = (
    "send_offset_s",
    "rtt_s",
    "forward_delay_s",
    "backward_delay_s",
    "reflector_residence_s",
)
INT_PROBE_COLUMNS = ("ttl", "size_bytes", "reflector_ttl")
STATUSES = {str(s) for s in Status}
KINDS = {"rtt", "throughput", "timing"}
EXPORT_BASENAMES = ("measurements.parquet", "measurements.csv", "measurements.jsonl")
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


def read_source(path: Path) -> RawPart:
    if path.is_dir():
        from qos_analysis.dataset import is_dataset, read_dataset

        return read_dataset(path) if is_dataset(path) else _read_export_dir(path)
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
    uri = path.resolve().as_uri() + "?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=30.0)
    except sqlite3.Error as exc:
        raise DataError(f"{path}: cannot open SQLite store: {exc}") from None
    try:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version > STORE_SCHEMA_VERSION:
            raise SchemaVersionError(
                f"{path}: store schema version {version} is newer than this qos-toolkit "
                f"supports ({STORE_SCHEMA_VERSION}); upgrade qos-toolkit to read it"
            )
        if version == 0:
            raise DataError(f"{path}: not a qos-toolkit store (user_version 0)")
        if version < STORE_SCHEMA_VERSION:
            raise DataError(
                f"{path}: store schema version {version} must be upgraded; open "
                "it once with qos-agent to upgrade"
            )
        meas = pd.read_sql_query(
            "SELECT mid, id AS measurement_id, agent_id, collector, target, started_at_us, "
            "duration_s, status, error, kind, schema_version, params_json, labels_json, "
            "result_json FROM measurements ORDER BY mid",
            conn,
        )
        probes = _sqlite_columns(conn, "probes", ("mid", *PROBE_COLUMNS))
        intervals = _sqlite_columns(conn, "intervals", ("mid", *INTERVAL_COLUMNS))
        agents = pd.read_sql_query("SELECT agent_id, timezone FROM agents", conn)
    except sqlite3.Error as exc:
        raise DataError(f"{path}: cannot read store: {exc}") from None
    finally:
        conn.close()
    meas["started_at"] = pd.to_datetime(
        meas.pop("started_at_us").astype("int64"), unit="us", utc=True
    ).astype("datetime64[us, UTC]")
    mids = meas.pop("mid").to_numpy(dtype=np.int64)
    ids = meas["measurement_id"].to_numpy(dtype=object)
    probes.insert(0, "measurement_id", _mid_to_id(probes.pop("mid"), mids, ids, path))
    intervals.insert(0, "measurement_id", _mid_to_id(intervals.pop("mid"), mids, ids, path))
    return RawPart(str(path), meas, probes, intervals, agents)


def _sqlite_columns(conn: sqlite3.Connection, table: str, columns: Sequence[str]) -> pd.DataFrame:
    """Read a table column-wise with one SELECT, skipping columns that are entirely NULL.

    Python objects per value are the cost of reading SQLite; ICMP data leaves the STAMP
    columns empty, so a cheap COUNT() pass avoids materialising millions of Nones.
    """
    counts = conn.execute(
        f"SELECT COUNT(*), {', '.join(f'COUNT({c})' for c in columns)} FROM {table}"
    ).fetchone()
    total, non_null = counts[0], dict(zip(columns, counts[1:], strict=True))
    present = [c for c in columns if non_null[c]]
    out: dict[str, Any] = {}
    if total and present:
        rows = conn.execute(f"SELECT {', '.join(present)} FROM {table}").fetchall()
        for name, values in zip(present, zip(*rows, strict=True), strict=True):
            if name in FLOAT_PROBE_COLUMNS or name in ("start_offset_s", "duration_s"):
                out[name] = np.array(values, dtype=np.float64)
            elif non_null[name] == total and name != "lost_direction":
                out[name] = np.array(values)
            else:
                out[name] = np.array(values, dtype=object)
    for name in columns:
        if name not in out:
            out[name] = all_missing_float(total)
    return pd.DataFrame(out, columns=list(columns))


def _frame_from_rows(rows: list[tuple[Any, ...]], columns: Sequence[str]) -> pd.DataFrame:
    if not rows:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    return pd.DataFrame.from_records(rows, columns=list(columns), coerce_float=True)


def _mid_to_id(mid: pd.Series, mids: np.ndarray, ids: np.ndarray, path: Path) -> pd.Categorical:
    values = mid.to_numpy(dtype=np.int64)
    pos = np.searchsorted(mids, values)
    pos_clipped = np.minimum(pos, max(len(mids) - 1, 0))
    if len(values) and (len(mids) == 0 or np.any(mids[pos_clipped] != values)):
        raise DataError(f"{path}: rows refer to measurements that do not exist")
    return (
        pd.Categorical.from_codes(pos, categories=pd.Index(ids, dtype=object), validate=False)
        if len(ids)
        else pd.Categorical([])
    )


# --- exports -----------------------------------------------------------------------------------


def _read_export_dir(directory: Path, only: str | None = None) -> RawPart:
    for suffix in (".parquet", ".csv", ".jsonl") if only is None else (only,):
        main = directory / f"measurements{suffix}"
        if main.is_file():
            if suffix == ".jsonl":
                return _read_jsonl(main)
            reader = _read_parquet_table if suffix == ".parquet" else read_csv_table
            meas = reader(main, MEASUREMENT_COLUMNS, required=True)
            probes = reader(
                directory / f"probes{suffix}", ("measurement_id", *PROBE_COLUMNS), required=False
            )
            intervals = reader(
                directory / f"intervals{suffix}",
                ("measurement_id", *INTERVAL_COLUMNS),
                required=False,
            )
            agents = reader(directory / f"agents{suffix}", ("agent_id", "timezone"), required=False)
            meas["started_at"] = utc_timestamps(meas["started_at"], main)
            return RawPart(str(directory), meas, probes, intervals, agents)
    raise DataError(f"{directory}: no measurements.parquet, .csv or .jsonl")


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


def _arrow_to_frame(table: Any, columns: Sequence[str]) -> pd.DataFrame:
    """Column-wise Arrow → pandas for the big tables: all-null columns become NaN arrays
    without materialising millions of Nones; numeric columns convert without copies where
    Arrow allows; the measurement key stays categorical."""
    import pyarrow.types as pat

    n = table.num_rows
    out: dict[str, Any] = {}
    for name in columns:
        col = table.column(name)
        if n and col.null_count == n:
            out[name] = all_missing_float(n)
        elif pat.is_dictionary(col.type):
            combined = col.combine_chunks()
            out[name] = pd.Categorical.from_codes(
                combined.indices.to_numpy(zero_copy_only=False),
                categories=pd.Index(combined.dictionary.to_pylist(), dtype=object),
                validate=False,
            )
        elif (pat.is_floating(col.type) or col.null_count == 0) and (
            pat.is_floating(col.type) or pat.is_integer(col.type) or pat.is_boolean(col.type)
        ):
            out[name] = col.to_numpy()
        else:
            out[name] = col.to_pandas()
    return pd.DataFrame(out, columns=list(columns), copy=False)


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
            dtype={
                "measurement_id": str,
                "agent_id": str,
                "error": str,
                "params_json": str,
                "labels_json": str,
                "result_json": str,
                "lost_direction": str,
            },
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
    probes = _frame_from_rows(probe_rows, ("measurement_id", *PROBE_COLUMNS))
    intervals = _frame_from_rows(interval_rows, ("measurement_id", *INTERVAL_COLUMNS))
    agents_path = path.parent / "agents.csv"
    agents = (
        read_csv_table(agents_path, ("agent_id", "timezone"), required=False)
        if agents_path.is_file()
        else pd.DataFrame(columns=["agent_id", "timezone"])
    )
    return RawPart(str(path), meas, probes, intervals, agents)


def all_missing_float(n: int) -> np.ndarray:
    """A read-only, zero-memory column of n NaNs (STAMP-only columns in ICMP data)."""
    return np.broadcast_to(np.float64(np.nan), (n,))


def all_missing_int(n: int) -> Any:
    return pd.arrays.IntegerArray(np.broadcast_to(np.int64(0), (n,)), np.broadcast_to(True, (n,)))
