"""Load stores and exports into tidy DataFrames (docs/architecture.md §2.5).

:func:`load` accepts SQLite stores, export directories written by ``qos-agent export``
(Parquet, CSV or JSONL), directories of such exports, globs, or a list of any of these
(one agent or many) and returns a :class:`Dataset` of tidy frames:

* ``measurements`` — one row per attempt, failed ones included (status, error);
  ``started_at`` is ``datetime64[us, UTC]``; ``timezone`` is the agent's IANA zone for
  local-time views; derived columns ``probes_sent``, ``probes_received``, ``direction``,
  ``goodput_bps``, ``bytes_total``, ``streams``, ``transaction_time_s``, ``outcome``,
  ``manipulated`` (integrity tests: 1.0 manipulated, 0.0 clean, NaN otherwise);
* ``probes`` — one row per probe: ``rtt_s`` NaN and ``lost`` True when no reply came
  (``probe_columns`` keeps only some probe columns, e.g. :data:`SCORING_PROBE_COLUMNS`;
  a partitioned dataset then decodes only those);
* ``intervals`` — throughput samples with ``rate_bps``;
* ``agents`` — ``agent_id``, ``timezone``.

A partitioned dataset (:mod:`qos_analysis.dataset`, written by ``qos collector``,
``qos ingest`` and ``qos synth``) is one source holding many agents.

Units are in the column names (``_s``, ``_bps``, ``_bytes``).  SQLite stores are read
through the store's column reader (:meth:`qos.store.SqliteStore.read_columns`): read-only
(``mode=ro``) so the agent can keep writing, every table from one snapshot.
A missing or malformed file raises :class:`DataError` naming the file and the problem;
data written by a newer schema raises :class:`~qos.errors.SchemaVersionError`.
"""

from __future__ import annotations

import glob as globmod
import json
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from qos.errors import SchemaVersionError
from qos.records import SCHEMA_VERSION
from qos_analysis.arrow_memory import system_memory_pool
from qos_analysis.dataset.layout import MARKER, is_dataset
from qos_analysis.page_advice import no_hugepage_advice
from qos_analysis.readers import (
    EXPORT_BASENAMES,
    KINDS,
    MEASUREMENT_COLUMNS,
    PROBE_COLUMNS,
    STATUSES,
    DataError,
    RawPart,
    all_missing_int,
    read_source,
)
from qos_analysis.stats import chunked

__all__ = ["SCORING_PROBE_COLUMNS", "DataError", "Dataset", "from_measurements", "load"]

#: The probe columns scoring and reports read (populations, provenance): a loader asked for
#: these alone skips decoding sequence numbers, TTLs, duplicate counts and sizes.
SCORING_PROBE_COLUMNS: tuple[str, ...] = (
    "send_offset_s",
    "rtt_s",
    "forward_delay_s",
    "backward_delay_s",
    "lost_direction",
    "one_way_valid",
)
#: Probe columns every load keeps: the send time and the reply (``lost`` derives from it).
_REQUIRED_PROBE_COLUMNS = ("send_offset_s", "rtt_s")


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

    def for_agents(self, agents: Iterable[str]) -> Dataset:
        """The rows of the given agents only (probes and intervals follow their
        measurements), e.g. one household's view of a panel."""
        wanted = set(agents)
        meas = self.measurements[self.measurements["agent_id"].isin(wanted)]
        ids = pd.Index(meas["measurement_id"].astype(str), dtype=object)
        return replace(
            self,
            measurements=meas.reset_index(drop=True),
            probes=_child_rows(self.probes, ids),
            intervals=_child_rows(self.intervals, ids),
            agents=self.agents[self.agents["agent_id"].isin(wanted)].reset_index(drop=True),
        )


def _child_rows(frame: pd.DataFrame, ids: pd.Index) -> pd.DataFrame:
    """Rows of ``frame`` whose measurement is in ``ids``, its categorical ``measurement_id``
    re-coded against ``ids`` (the populations index measurements by those codes)."""
    keep = frame[frame["measurement_id"].astype(str).isin(ids)].reset_index(drop=True)
    codes = ids.get_indexer(keep["measurement_id"].astype(str))
    return keep.assign(
        measurement_id=pd.Categorical.from_codes(codes, categories=ids, validate=False)
    )


# --- public entry point ----------------------------------------------------------------------


def load(
    paths: str | Path | Sequence[str | Path],
    *,
    probe_columns: Collection[str] | None = None,
    intervals: bool = True,
) -> Dataset:
    """Read one or many stores/exports into a :class:`Dataset` (see module docstring);
    ``probe_columns`` keeps only those probe columns (and ``send_offset_s``, ``rtt_s``);
    ``intervals=False`` leaves ``intervals`` empty (scoring never reads them: throughput
    verdicts score each test's goodput), and a partitioned dataset does not read them."""
    wanted = probe_column_selection(probe_columns)
    items = [paths] if isinstance(paths, str | Path) else list(paths)
    if not items:
        raise DataError("no data path given")
    resolved: list[Path] = []
    for item in items:
        for path in _expand(item):
            if path.resolve() not in {r.resolve() for r in resolved}:
                resolved.append(path)
    with system_memory_pool(), no_hugepage_advice():
        parts = [read_source(path, probe_columns=wanted, intervals=intervals) for path in resolved]
        if not intervals:
            parts = [replace(p, intervals=p.intervals.iloc[:0]) for p in parts]
        return _combine(parts, wanted)


def probe_column_selection(probe_columns: Collection[str] | None) -> tuple[str, ...] | None:
    """The probe columns to keep, in table order (None: all); unknown names are an error."""
    if probe_columns is None:
        return None
    unknown = sorted(set(probe_columns) - set(PROBE_COLUMNS))
    if unknown:
        raise DataError(f"unknown probe column(s) {', '.join(unknown)}")
    keep = set(probe_columns) | set(_REQUIRED_PROBE_COLUMNS)
    return tuple(name for name in PROBE_COLUMNS if name in keep)


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
        if is_dataset(path) or any((path / name).is_file() for name in EXPORT_BASENAMES):
            return [path]
        found = sorted({p.parent for name in (*EXPORT_BASENAMES, MARKER) for p in path.rglob(name)})
        stores = sorted(p for ext in ("*.sqlite", "*.sqlite3", "*.db") for p in path.rglob(ext))
        # a dataset is one source: files inside it (its quarantine/) are not sources of their own
        datasets = [p for p in found if is_dataset(p)]
        found = [p for p in found if not any(d in p.parents for d in datasets)]
        stores = [p for p in stores if not any(d in p.parents for d in datasets)]
        if not found and not stores:
            raise DataError(
                f"{path}: directory holds no qos-toolkit export "
                f"({', '.join(EXPORT_BASENAMES)}) and no SQLite store"
            )
        return [*found, *stores]
    return [path]


# --- combination and typing --------------------------------------------------------------------


def _validate_measurements(part: RawPart) -> None:
    frame = part.measurements
    bad_status = set(frame["status"].dropna().unique()) - STATUSES
    if bad_status or frame["status"].isna().any():
        raise DataError(
            f"{part.source}: unknown status value(s) "
            f"{sorted(map(str, bad_status)) or ['<missing>']}"
        )
    kinds = set(frame["kind"].dropna().unique()) - KINDS
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


#: The loader's whole-source checks, for writers that take the loader's frames (qos ingest).
check_measurements = _validate_measurements


def from_parts(parts: list[RawPart], probe_columns: Collection[str] | None = None) -> Dataset:
    """A :class:`Dataset` from reader output (e.g. some agents of a partitioned dataset),
    keeping ``probe_columns`` only when given (as :func:`load`)."""
    with system_memory_pool(), no_hugepage_advice():
        return _combine(parts, probe_column_selection(probe_columns))


def _combine(parts: list[RawPart], probe_columns: tuple[str, ...] | None = None) -> Dataset:
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
    probes = _type_probes(_concat(probe_frames), ids, probe_columns)
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
        if mapping.size and int(mapping.min()) >= 0 and bool(np.all(owners[mapping] == part)):
            # Every category is a measurement kept from this part: nothing to check per row.
            return frame.assign(_code=mapping.astype(_code_dtype(len(ids)))[codes])
        used = np.zeros(len(mapping), dtype=bool)
        used[
            np.unique(codes)
            if codes.size < 1024
            else np.flatnonzero(chunked.bincount(codes, minlength=len(mapping)))
        ] = True
        if np.any(mapping[used] < 0):
            missing = int(np.count_nonzero(mapping[codes] < 0))
            raise DataError(f"{source}: {missing} row(s) refer to unknown measurement ids")
        new = mapping.astype(_code_dtype(len(ids)))[codes]
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


def _code_dtype(n: int) -> type[np.signedinteger[Any]]:
    """The narrowest signed integer type for codes into ``n`` categories (as pandas
    stores categorical codes), so that re-keyed rows are not widened and narrowed again."""
    for dtype in (np.int8, np.int16, np.int32):
        if n < np.iinfo(dtype).max:
            return dtype
    return np.int64


def _nullable_int(series: pd.Series) -> Any:
    if isinstance(series.dtype, pd.Int64Dtype):
        return series.array
    if series.dtype.kind in "iub":
        return pd.array(series.to_numpy(dtype=np.int64), dtype="Int64")
    if series.dtype.kind == "f":
        values = series.to_numpy()
        missing = np.isnan(values)
        if missing.all():
            return all_missing_int(len(values))
        whole = np.where(missing, 0, values)
        if np.any(whole != np.round(whole)):
            raise ValueError(f"column {series.name} holds non-integer values")
        return pd.arrays.IntegerArray(whole.astype(np.int64), missing)
    if series.isna().all():
        return all_missing_int(len(series))
    return pd.to_numeric(series, errors="raise").astype("Int64").array


def _bool_column(series: pd.Series) -> pd.Series:
    if isinstance(series.dtype, pd.BooleanDtype):
        return series
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


def _type_probes(
    frame: pd.DataFrame, ids: pd.Index, probe_columns: tuple[str, ...] | None = None
) -> pd.DataFrame:
    """Probe rows in the loader's dtypes: ``probe_columns`` only when given (a selective
    dataset read gives no others), else every probe column."""
    codes = frame["_code"].to_numpy() if "_code" in frame else np.empty(0, np.int64)
    names = [n for n in (probe_columns or PROBE_COLUMNS) if n in frame or not len(frame)]
    missing = sorted(set(probe_columns or PROBE_COLUMNS) - set(names))
    if missing:
        raise DataError(f"probe data malformed: column(s) {', '.join(missing)} missing")
    cols: dict[str, Any] = {
        "measurement_id": pd.Categorical.from_codes(codes, categories=ids, validate=False)
        if len(ids)
        else pd.Categorical([])
    }
    if len(frame) == 0:
        for name in names:
            cols[name] = pd.Series(dtype=_EMPTY_PROBE_DTYPES.get(name, np.float64))
        cols["lost"] = pd.Series(dtype=bool)
        return pd.DataFrame(cols)
    try:
        for name in names:
            cols[name] = _PROBE_TYPES.get(name, _float_probe)(frame[name])
    except (ValueError, TypeError) as exc:
        raise DataError(f"probe data malformed: {exc}") from None
    cols["lost"] = np.isnan(cols["rtt_s"])
    if np.isnan(cols["send_offset_s"]).any():
        raise DataError("probe data malformed: send_offset_s missing")
    return pd.DataFrame(
        {k: v.to_numpy() if isinstance(v, pd.Series) else v for k, v in cols.items()},
        copy=False,
    )


def _float_probe(series: pd.Series) -> np.ndarray:
    return _numeric(series, np.float64)


def _duplicates(series: pd.Series) -> np.ndarray:
    if series.dtype == np.int64:
        return series.to_numpy()
    return pd.to_numeric(series).fillna(0).to_numpy(np.int64)


def _lost_direction(series: pd.Series) -> Any:
    if series.isna().all():
        return _missing_strings(len(series))
    return series.astype("string").array


def _missing_strings(n: int) -> Any:
    """``n`` missing values of the ``string`` dtype, as one null chunk repeated: a null
    string array still has an offsets buffer of n + 1 zeros, which the C library's
    allocator (Arrow's while loading) would write out in full — 80 MB at 10 M rows."""
    size = min(n, chunked.CHUNK_ROWS)
    if size == 0:
        return pd.array(pa.nulls(0, pa.large_string()), dtype="string")
    chunk = pa.nulls(size, pa.large_string())
    pieces = [chunk] * (n // size) + ([chunk.slice(0, n % size)] if n % size else [])
    return pd.arrays.ArrowStringArray(pa.chunked_array(pieces, type=pa.large_string()))


#: How each non-float probe column is typed (float columns: :func:`_float_probe`).
_PROBE_TYPES: dict[str, Any] = {
    "seq": lambda series: _numeric(series, np.int64),
    "ttl": _nullable_int,
    "duplicates": _duplicates,
    "size_bytes": _nullable_int,
    "lost_direction": _lost_direction,
    "one_way_valid": lambda series: _bool_column(series).array,
    "reflector_ttl": _nullable_int,
}


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
    out["probes_sent"] = chunked.bincount(codes, minlength=n_meas)[:n_meas]
    lost = probes["lost"].to_numpy() if len(probes) else np.empty(0, bool)
    out["probes_received"] = (
        out["probes_sent"] - np.bincount(codes[lost], minlength=n_meas)[:n_meas]
    )
    # Tests of one schedule share their parameters: parse each distinct text once.
    counts = {p: _param_int(p, "count") for p in dict.fromkeys(out["params_json"])}
    out["probes_expected"] = [counts[p] for p in out["params_json"]]
    derived = [_derive(k, r) for k, r in zip(out["kind"], out["result_json"], strict=True)]
    for i, name in enumerate(
        ("direction", "goodput_bps", "bytes_total", "streams", "transaction_time_s", "outcome")
    ):
        out[name] = [d[i] for d in derived]
    out["goodput_bps"] = pd.to_numeric(out["goodput_bps"]).astype(np.float64)
    out["transaction_time_s"] = pd.to_numeric(out["transaction_time_s"]).astype(np.float64)
    out["bytes_total"] = pd.to_numeric(out["bytes_total"]).astype("Int64")
    outcome = out["outcome"].astype(object)
    out["manipulated"] = np.where(
        outcome == "manipulated", 1.0, np.where(outcome == "clean", 0.0, np.nan)
    )
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
        "manipulated",
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
