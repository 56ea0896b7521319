"""Load stores and exports into tidy DataFrames (ARCHITECTURE.md §2.5).

:func:`load` accepts SQLite stores, export directories written by ``qos-agent export``
(Parquet, CSV or JSONL), directories of such exports, globs, or a list of any of these
(one agent or many) and returns a :class:`Dataset` of tidy frames:

* ``measurements`` — one row per attempt, failed ones included (status, error);
  ``started_at`` is ``datetime64[us, UTC]``; ``timezone`` is the agent's IANA zone for
  local-time views; derived columns ``probes_sent``, ``probes_received``, ``direction``,
  ``goodput_bps``, ``bytes_total``, ``streams``, ``transaction_time_s``, ``outcome``;
* ``probes`` — one row per probe: ``rtt_s`` NaN and ``lost`` True when no reply came;
* ``intervals`` — throughput samples with ``rate_bps``;
* ``agents`` — ``agent_id``, ``timezone``.

Units are in the column names (``_s``, ``_bps``, ``_bytes``).  SQLite stores are opened
read-only (``mode=ro``) so the agent can keep writing, and probes load with one SELECT.
A missing or malformed file raises :class:`DataError` naming the file and the problem;
data written by a newer schema raises :class:`~qos.errors.SchemaVersionError`.
"""

from __future__ import annotations

import glob as globmod
import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from qos.errors import SchemaVersionError, SerializationError, StoreError
from qos.records import SCHEMA_VERSION, Status
from qos.serialization import measurement_from_dict, result_to_dict
from qos.store.sqlite import STORE_SCHEMA_VERSION

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
PROBE_COLUMNS = (
    "seq",
    "send_offset_s",
    "rtt_s",
    "ttl",
    "duplicates",
    "size_bytes",
    "forward_delay_s",
    "backward_delay_s",
    "reflector_residence_s",
    "lost_direction",
    "one_way_valid",
    "reflector_ttl",
)
INTERVAL_COLUMNS = ("stream", "start_offset_s", "duration_s", "bytes", "warmup")
_FLOAT_PROBE = (
    "send_offset_s",
    "rtt_s",
    "forward_delay_s",
    "backward_delay_s",
    "reflector_residence_s",
)
_INT_PROBE = ("ttl", "size_bytes", "reflector_ttl")
_STATUSES = {str(s) for s in Status}
_KINDS = {"rtt", "throughput", "timing"}
_EXPORT_BASENAMES = ("measurements.parquet", "measurements.csv", "measurements.jsonl")
_SQLITE_MAGIC = b"SQLite format 3\x00"


class DataError(StoreError):
    """A data file is missing or malformed; the message names the file and the problem."""


@dataclass(frozen=True)
class Dataset:
    """Tidy frames of one or many sources (see module docstring for the columns)."""

    measurements: pd.DataFrame
    probes: pd.DataFrame
    intervals: pd.DataFrame
    agents: pd.DataFrame
    sources: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def empty(self) -> bool:
        return self.measurements.empty


@dataclass
class _Part:
    """Frames from one source before combination (probes keyed by measurement_id)."""

    source: str
    measurements: pd.DataFrame
    probes: pd.DataFrame
    intervals: pd.DataFrame
    agents: pd.DataFrame


# --- public entry point ----------------------------------------------------------------------


def load(paths: str | Path | Sequence[str | Path]) -> Dataset:
    """Read one or many stores/exports into a :class:`Dataset` (see module docstring)."""
    items = [paths] if isinstance(paths, str | Path) else list(paths)
    if not items:
        raise DataError("no data path given")
    resolved: list[Path] = []
    for item in items:
        for path in _expand(item):
            if path.resolve() not in {r.resolve() for r in resolved}:
                resolved.append(path)
    parts = [_read_source(path) for path in resolved]
    return _combine(parts)


def _expand(item: str | Path) -> list[Path]:
    text = str(item)
    if any(ch in text for ch in "*?["):
        matches = sorted(Path(m) for m in globmod.glob(text, recursive=True))
        if not matches:
            raise DataError(f"{text}: no file or directory matches this pattern")
        out: list[Path] = []
        for match in matches:
            out.extend(_expand(match))
        return out
    path = Path(text).expanduser()
    if not path.exists():
        raise DataError(f"{path}: no such file or directory")
    if path.is_dir():
        if any((path / name).is_file() for name in _EXPORT_BASENAMES):
            return [path]
        found = sorted({p.parent for name in _EXPORT_BASENAMES for p in path.rglob(name)})
        stores = sorted(p for ext in ("*.sqlite", "*.sqlite3", "*.db") for p in path.rglob(ext))
        if not found and not stores:
            raise DataError(
                f"{path}: directory holds no qos-toolkit export "
                f"({', '.join(_EXPORT_BASENAMES)}) and no SQLite store"
            )
        return [*found, *stores]
    return [path]


def _read_source(path: Path) -> _Part:
    if path.is_dir():
        return _read_export_dir(path)
    try:
        with path.open("rb") as handle:
            head = handle.read(16)
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror}") from None
    if head == _SQLITE_MAGIC:
        return _read_sqlite(path)
    if path.name in _EXPORT_BASENAMES or path.suffix in (".parquet", ".csv"):
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


def _read_sqlite(path: Path) -> _Part:
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
    return _Part(str(path), meas, probes, intervals, agents)


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
            if name in _FLOAT_PROBE or name in ("start_offset_s", "duration_s"):
                out[name] = np.array(values, dtype=np.float64)
            elif non_null[name] == total and name != "lost_direction":
                out[name] = np.array(values)
            else:
                out[name] = np.array(values, dtype=object)
    for name in columns:
        if name not in out:
            out[name] = _all_missing_float(total)
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


def _read_export_dir(directory: Path, only: str | None = None) -> _Part:
    for suffix in (".parquet", ".csv", ".jsonl") if only is None else (only,):
        main = directory / f"measurements{suffix}"
        if main.is_file():
            if suffix == ".jsonl":
                return _read_jsonl(main)
            reader = _read_parquet_table if suffix == ".parquet" else _read_csv_table
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
            meas["started_at"] = _utc(meas["started_at"], main)
            return _Part(str(directory), meas, probes, intervals, agents)
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
            out[name] = _all_missing_float(n)
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


def _read_csv_table(path: Path, columns: Sequence[str], *, required: bool) -> pd.DataFrame:
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
    for name in _FLOAT_PROBE:
        if name in frame.columns:
            raw = frame[name]
            if raw.dtype == object and raw.astype(str).str.lower().isin(["nan"]).any():
                raise DataError(f"{path}: column {name} holds NaN; leave a missing value empty")
            try:
                frame[name] = pd.to_numeric(raw)
            except ValueError as exc:
                raise DataError(f"{path}: column {name}: {exc}") from None
    return frame[list(columns)]


def _utc(series: pd.Series, path: Path) -> pd.Series:
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


def _read_jsonl(path: Path) -> _Part:
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
        _utc(meas["started_at"], path) if len(meas) else pd.Series(dtype="datetime64[us, UTC]")
    )
    probes = _frame_from_rows(probe_rows, ("measurement_id", *PROBE_COLUMNS))
    intervals = _frame_from_rows(interval_rows, ("measurement_id", *INTERVAL_COLUMNS))
    agents_path = path.parent / "agents.csv"
    agents = (
        _read_csv_table(agents_path, ("agent_id", "timezone"), required=False)
        if agents_path.is_file()
        else pd.DataFrame(columns=["agent_id", "timezone"])
    )
    return _Part(str(path), meas, probes, intervals, agents)


# --- combination and typing --------------------------------------------------------------------


def _validate_measurements(part: _Part) -> None:
    frame = part.measurements
    bad_status = set(frame["status"].dropna().unique()) - _STATUSES
    if bad_status or frame["status"].isna().any():
        raise DataError(
            f"{part.source}: unknown status value(s) "
            f"{sorted(map(str, bad_status)) or ['<missing>']}"
        )
    kinds = set(frame["kind"].dropna().unique()) - _KINDS
    if kinds:
        raise DataError(f"{part.source}: unknown kind value(s) {sorted(map(str, kinds))}")
    versions = pd.to_numeric(frame["schema_version"], errors="coerce")
    if versions.isna().any():
        raise DataError(f"{part.source}: schema_version missing or not an integer")
    if len(versions) and versions.max() > SCHEMA_VERSION:
        raise SchemaVersionError(
            f"{part.source}: record schema_version {int(versions.max())} is newer than this "
            f"qos-toolkit understands ({SCHEMA_VERSION}); upgrade qos-toolkit to read it"
        )
    if frame["measurement_id"].isna().any():
        raise DataError(f"{part.source}: measurement_id missing")
    durations = pd.to_numeric(frame["duration_s"], errors="coerce")
    if durations.isna().any() or (durations < 0).any():
        raise DataError(f"{part.source}: duration_s missing, negative or not a number")


def _combine(parts: list[_Part]) -> Dataset:
    notes: list[str] = []
    for part in parts:
        _validate_measurements(part)
    meas_frames = [p.measurements.assign(source=p.source) for p in parts]
    meas = pd.concat(meas_frames, ignore_index=True) if meas_frames else pd.DataFrame()
    part_of_row = np.repeat(np.arange(len(parts)), [len(p.measurements) for p in parts])
    duplicated = meas["measurement_id"].duplicated(keep="first")
    if duplicated.any():
        notes.append(
            f"{int(duplicated.sum())} measurement(s) appeared in more than one source; "
            "the first copy was kept"
        )
    keep_first = ~duplicated.to_numpy()
    meas = meas.loc[keep_first].reset_index(drop=True)
    ids = pd.Index(meas["measurement_id"].astype(str).to_numpy(dtype=object))
    if not ids.is_unique:  # pragma: no cover - guarded above
        raise DataError("duplicate measurement ids")

    owners = part_of_row[keep_first]
    probe_frames = [_attach(p.probes, ids, owners, i, p.source) for i, p in enumerate(parts)]
    interval_frames = [_attach(p.intervals, ids, owners, i, p.source) for i, p in enumerate(parts)]
    probes = _type_probes(_concat(probe_frames), ids)
    intervals = _type_intervals(_concat(interval_frames), ids)

    agents = pd.concat([p.agents[["agent_id", "timezone"]] for p in parts], ignore_index=True)
    agents = agents.dropna(subset=["agent_id"]).drop_duplicates("agent_id", keep="first")
    agents = agents.reset_index(drop=True)
    meas = _type_measurements(meas, agents, probes)
    return Dataset(
        meas, probes, intervals, agents, sources=tuple(p.source for p in parts), notes=tuple(notes)
    )


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)] or frames[:1]
    return (
        frames[0].reset_index(drop=True)
        if len(frames) == 1
        else pd.concat(frames, ignore_index=True)
    )


def _attach(
    frame: pd.DataFrame, ids: pd.Index, owners: np.ndarray, part: int, source: str
) -> pd.DataFrame:
    """Re-key a part's rows onto the combined measurement index (``_code`` into ``ids``).

    Rows of a measurement whose kept copy came from another part are dropped with it.
    """
    if frame.empty:
        return frame.assign(_code=pd.Series(dtype=np.int64))
    col = frame["measurement_id"]
    if isinstance(col.dtype, pd.CategoricalDtype):
        # Map the (few) categories, then gather once per row.
        mapping = ids.get_indexer(col.cat.categories.astype(str))
        codes = col.cat.codes.to_numpy()
        if codes.size and int(codes.min()) < 0:
            raise DataError(f"{source}: rows without a measurement id")
        used = np.zeros(len(mapping), dtype=bool)
        used[
            np.unique(codes)
            if codes.size < 1024
            else np.flatnonzero(np.bincount(codes, minlength=len(mapping)))
        ] = True
        if np.any(mapping[used] < 0):
            missing = int(np.count_nonzero(mapping[codes] < 0))
            raise DataError(f"{source}: {missing} row(s) refer to unknown measurement ids")
        new = mapping[codes].astype(np.int64, copy=False)
        foreign = used & (owners[np.maximum(mapping, 0)] != part)
        keep = None if not foreign.any() else ~foreign[codes]
    else:
        new = ids.get_indexer(col.astype(str))
        if np.any(new < 0):
            raise DataError(
                f"{source}: {int(np.sum(new < 0))} row(s) refer to unknown measurement ids"
            )
        keep = owners[new] == part
        keep = None if keep.all() else keep
    out = frame.assign(_code=new)
    return out if keep is None else out.loc[keep]


def _all_missing_float(n: int) -> np.ndarray:
    """A read-only, zero-memory column of n NaNs (STAMP-only columns in ICMP data)."""
    return np.broadcast_to(np.float64(np.nan), (n,))


def _all_missing_int(n: int) -> Any:
    return pd.arrays.IntegerArray(np.broadcast_to(np.int64(0), (n,)), np.broadcast_to(True, (n,)))


def _nullable_int(series: pd.Series) -> Any:
    if isinstance(series.dtype, pd.Int64Dtype):
        return series.array
    if series.dtype.kind in "iub":
        return pd.array(series.to_numpy(dtype=np.int64), dtype="Int64")
    if series.dtype.kind == "f":
        values = series.to_numpy()
        missing = np.isnan(values)
        if missing.all():
            return _all_missing_int(len(values))
        whole = np.where(missing, 0, values)
        if np.any(whole != np.round(whole)):
            raise ValueError(f"column {series.name} holds non-integer values")
        return pd.arrays.IntegerArray(whole.astype(np.int64), missing)
    if series.isna().all():
        return _all_missing_int(len(series))
    return pd.to_numeric(series, errors="raise").astype("Int64").array


def _bool_column(series: pd.Series) -> pd.Series:
    if series.dtype == bool:
        return series.astype("boolean")
    if series.isna().all():
        n = len(series)
        return pd.Series(
            pd.arrays.BooleanArray(np.broadcast_to(False, (n,)), np.broadcast_to(True, (n,))),
            index=series.index,
            copy=False,
        )
    if series.dtype != object:
        numeric = pd.to_numeric(series, errors="coerce")
        if numeric.dropna().isin([0, 1]).all():
            return numeric.astype("boolean")
    mapping = {
        True: True,
        False: False,
        "1": True,
        "0": False,
        "true": True,
        "false": False,
        "True": True,
        "False": False,
    }
    if series.dtype == bool:
        return series.astype("boolean")
    return series.map(
        lambda v: (
            pd.NA
            if v is None or (isinstance(v, float) and np.isnan(v))
            else mapping.get(v, mapping.get(str(v), pd.NA))
        )
    ).astype("boolean")


def _numeric(series: pd.Series, dtype: Any) -> np.ndarray:
    """Column as a numpy array of ``dtype`` without copying when it already is one."""
    if series.dtype == dtype:
        return series.to_numpy()
    return pd.to_numeric(series).to_numpy(dtype=dtype)


def _type_probes(frame: pd.DataFrame, ids: pd.Index) -> pd.DataFrame:
    codes = frame["_code"].to_numpy(dtype=np.int64) if "_code" in frame else np.empty(0, np.int64)
    n = len(frame)
    cols: dict[str, Any] = {
        "measurement_id": pd.Categorical.from_codes(codes, categories=ids, validate=False)
        if len(ids)
        else pd.Categorical([])
    }
    if n == 0:
        for name in PROBE_COLUMNS:
            cols[name] = pd.Series(dtype=_EMPTY_PROBE_DTYPES.get(name, np.float64))
        cols["lost"] = pd.Series(dtype=bool)
        return pd.DataFrame(cols)
    try:
        cols["seq"] = _numeric(frame["seq"], np.int64)
        for name in ("send_offset_s", "rtt_s"):
            cols[name] = _numeric(frame[name], np.float64)
        cols["ttl"] = _nullable_int(frame["ttl"])
        cols["duplicates"] = pd.to_numeric(frame["duplicates"]).fillna(0).to_numpy(np.int64)
        cols["size_bytes"] = _nullable_int(frame["size_bytes"])
        for name in ("forward_delay_s", "backward_delay_s", "reflector_residence_s"):
            cols[name] = _numeric(frame[name], np.float64)
    except (ValueError, TypeError) as exc:
        raise DataError(f"probe data malformed: {exc}") from None
    direction = frame["lost_direction"]
    cols["lost_direction"] = (
        pd.array(pa.nulls(n, pa.large_string()), dtype="string")
        if direction.isna().all()
        else direction.astype("string").array
    )
    cols["one_way_valid"] = _bool_column(frame["one_way_valid"])
    try:
        cols["reflector_ttl"] = _nullable_int(frame["reflector_ttl"])
    except (ValueError, TypeError) as exc:
        raise DataError(f"probe data malformed: {exc}") from None
    cols["lost"] = np.isnan(cols["rtt_s"])
    if np.isnan(cols["send_offset_s"]).any():
        raise DataError("probe data malformed: send_offset_s missing")
    return pd.DataFrame(
        {
            k: (
                v.to_numpy()
                if isinstance(v, pd.Series)
                and k
                not in ("ttl", "size_bytes", "reflector_ttl", "lost_direction", "one_way_valid")
                else v
            )
            for k, v in cols.items()
        },
        copy=False,
    )


_EMPTY_PROBE_DTYPES: dict[str, Any] = {
    "seq": np.int64,
    "ttl": "Int64",
    "duplicates": np.int64,
    "size_bytes": "Int64",
    "lost_direction": "string",
    "one_way_valid": "boolean",
    "reflector_ttl": "Int64",
}


def _type_intervals(frame: pd.DataFrame, ids: pd.Index) -> pd.DataFrame:
    codes = (
        frame.pop("_code").to_numpy(dtype=np.int64) if "_code" in frame else np.empty(0, np.int64)
    )
    n = len(frame)
    out = pd.DataFrame(
        {
            "measurement_id": pd.Categorical.from_codes(codes, categories=ids, validate=False)
            if len(ids)
            else pd.Categorical([])
        }
    )
    try:
        out["stream"] = (
            pd.to_numeric(frame["stream"]).astype(np.int64) if n else pd.Series(dtype=np.int64)
        )
        for name in ("start_offset_s", "duration_s"):
            out[name] = (
                pd.to_numeric(frame[name]).astype(np.float64) if n else pd.Series(dtype=np.float64)
            )
        out["bytes"] = (
            pd.to_numeric(frame["bytes"]).astype(np.int64) if n else pd.Series(dtype=np.int64)
        )
    except (ValueError, TypeError) as exc:
        raise DataError(f"interval data malformed: {exc}") from None
    out["warmup"] = (
        _bool_column(frame["warmup"]).fillna(False).astype(bool) if n else pd.Series(dtype=bool)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = out["bytes"].to_numpy(np.float64) * 8 / out["duration_s"].to_numpy(np.float64)
    out["rate_bps"] = np.where(out["duration_s"].to_numpy() > 0, rate, np.nan)
    return out


def _type_measurements(
    meas: pd.DataFrame, agents: pd.DataFrame, probes: pd.DataFrame
) -> pd.DataFrame:
    out = meas.copy()
    for name in ("measurement_id", "agent_id", "collector", "target", "status"):
        out[name] = out[name].astype(str)
    for name in ("error", "kind", "params_json", "labels_json", "result_json"):
        out[name] = out[name].astype(object).where(out[name].notna(), None)
    out["duration_s"] = pd.to_numeric(out["duration_s"]).astype(np.float64)
    out["schema_version"] = pd.to_numeric(out["schema_version"]).astype(np.int64)
    if "started_at" not in out or len(out) == 0:
        out["started_at"] = pd.Series(dtype="datetime64[us, UTC]")
    tz = dict(zip(agents["agent_id"], agents["timezone"], strict=True))
    out["timezone"] = out["agent_id"].map(lambda a: tz.get(a)).astype(object)
    out["timezone"] = out["timezone"].where(out["timezone"].notna(), None)
    n_meas = len(out)
    codes = probes["measurement_id"].cat.codes.to_numpy() if len(probes) else np.empty(0, np.int64)
    out["probes_sent"] = np.bincount(codes, minlength=n_meas)[:n_meas].astype(np.int64)
    lost = probes["lost"].to_numpy() if len(probes) else np.empty(0, bool)
    out["probes_received"] = (
        out["probes_sent"] - np.bincount(codes[lost], minlength=n_meas)[:n_meas]
    )
    out["probes_expected"] = [_param_int(p, "count") for p in out["params_json"]]
    derived = [_derive(k, r) for k, r in zip(out["kind"], out["result_json"], strict=True)]
    for i, name in enumerate(
        ("direction", "goodput_bps", "bytes_total", "streams", "transaction_time_s", "outcome")
    ):
        out[name] = [d[i] for d in derived]
    out["goodput_bps"] = pd.to_numeric(out["goodput_bps"]).astype(np.float64)
    out["transaction_time_s"] = pd.to_numeric(out["transaction_time_s"]).astype(np.float64)
    out["bytes_total"] = pd.to_numeric(out["bytes_total"]).astype("Int64")
    out["streams"] = pd.to_numeric(out["streams"]).astype("Int64")
    cols = [
        *MEASUREMENT_COLUMNS,
        "timezone",
        "source",
        "probes_sent",
        "probes_received",
        "probes_expected",
        "direction",
        "goodput_bps",
        "bytes_total",
        "streams",
        "transaction_time_s",
        "outcome",
    ]
    return out[cols].reset_index(drop=True)


def _param_int(params_json: str | None, key: str) -> int | None:
    if not params_json:
        return None
    try:
        value = json.loads(params_json).get(key)
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _derive(kind: str | None, result_json: str | None) -> tuple[Any, ...]:
    """(direction, goodput_bps, bytes_total, streams, transaction_time_s, outcome)."""
    if not result_json or kind not in ("throughput", "timing"):
        return (None, None, None, None, None, None)
    try:
        data = json.loads(result_json)
    except ValueError:
        return (None, None, None, None, None, None)
    if kind == "throughput":
        return (
            data.get("direction"),
            data.get("goodput_bps"),
            data.get("bytes_total"),
            data.get("streams"),
            None,
            None,
        )
    phases = data.get("phases_s") or {}
    total = phases.get("total")
    if total is None:
        defined = [v for v in phases.values() if isinstance(v, int | float)]
        total = sum(defined) if defined else None
    return (None, None, None, None, total, data.get("outcome"))


def from_measurements(
    measurements: Iterable[Any], *, timezones: dict[str, str] | None = None
) -> Dataset:
    """A :class:`Dataset` straight from :class:`~qos.records.Measurement` objects (tests,
    notebooks) via the same JSON path as JSONL exports."""
    import tempfile

    from qos.serialization import dumps

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "measurements.jsonl"
        with path.open("w", encoding="utf-8") as handle:
            for m in measurements:
                handle.write(dumps(m) + "\n")
        if timezones:
            pd.DataFrame(
                {"agent_id": list(timezones), "timezone": list(timezones.values())}
            ).to_csv(Path(tmp) / "agents.csv", index=False)
        data = load(path)
    return Dataset(
        data.measurements, data.probes, data.intervals, data.agents, sources=(), notes=data.notes
    )
