"""Read a partitioned dataset (or a selection of its partitions) into loader frames.

Only committed batches are read: a probe or interval part counts when the measurements part
of the same name exists in the same partition (see :mod:`qos_analysis.dataset`).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from qos_analysis.dataset.layout import agent_from_segment, is_dataset
from qos_analysis.dataset.schema import AGENTS_SCHEMA, SCHEMAS
from qos_analysis.readers import (
    MEASUREMENT_COLUMNS,
    DataError,
    RawPart,
    _arrow_to_frame,
    utc_timestamps,
)


def committed_parts(
    root: Path,
    *,
    agents: Collection[str] | None = None,
    dates: Collection[str] | None = None,
) -> list[Path]:
    """Measurements parts (relative to ``root/measurements``) of the selected partitions."""
    base = root / "measurements"
    parts = []
    for part in sorted(base.glob("date=*/agent=*/part-*.parquet")):
        date = part.parent.parent.name.partition("=")[2]
        agent = agent_from_segment(part.parent.name)
        if (dates is None or date in dates) and (agents is None or agent in agents):
            parts.append(part.relative_to(base))
    return parts


def list_agents(root: Path) -> list[str]:
    """Agent ids with at least one committed batch, sorted."""
    return sorted({agent_from_segment(p.parent.name) for p in committed_parts(root)})


def agent_bytes(root: Path) -> dict[str, int]:
    """Parquet bytes of each agent's committed batches (all tables), to size tasks."""
    out: dict[str, int] = {}
    for part in committed_parts(root):
        agent = agent_from_segment(part.parent.name)
        for table in ("measurements", "probes", "intervals"):
            path = root / table / part
            if path.is_file():
                out[agent] = out.get(agent, 0) + path.stat().st_size
    return out


def read_dataset(
    root: Path,
    *,
    agents: Collection[str] | None = None,
    dates: Collection[str] | None = None,
) -> RawPart:
    """Loader frames of the committed batches of ``root`` (optionally some agents/days)."""
    if not is_dataset(root):
        raise DataError(f"{root}: not a qos-toolkit dataset (no qos-dataset.json)")
    parts = committed_parts(root, agents=agents, dates=dates)
    meas_table = _read_parts(root, "measurements", parts)
    meas = meas_table.to_pandas()[list(MEASUREMENT_COLUMNS)]
    meas["started_at"] = (
        utc_timestamps(meas["started_at"], root)
        if len(meas)
        else pd.Series(dtype="datetime64[us, UTC]")
    )
    probes = _keyed_frame(_read_parts(root, "probes", parts))
    intervals = _keyed_frame(_read_parts(root, "intervals", parts))
    return RawPart(str(root), meas, probes, intervals, _read_timezones(root))


def _read_parts(root: Path, table: str, parts: Sequence[Path]) -> pa.Table:
    """The committed parts of one table; the measurement key of probe and interval rows is
    read dictionary-encoded (a few ids repeated per part), which avoids materialising a
    string per row."""
    files = [str(root / table / p) for p in parts if (root / table / p).is_file()]
    schema = SCHEMAS[table]
    if not files:
        return schema.empty_table()
    keyed = table != "measurements"
    if keyed:
        fmt = pads.ParquetFileFormat(
            read_options=pads.ParquetReadOptions(dictionary_columns={"measurement_id"})
        )
        schema = schema.set(0, pa.field("measurement_id", pa.dictionary(pa.int32(), pa.string())))
    else:
        fmt = pads.ParquetFileFormat()
    try:
        out = pads.dataset(files, schema=schema, format=fmt).to_table()
    except (OSError, pa.ArrowException) as exc:
        raise DataError(f"{root / table}: unreadable dataset part: {exc}") from None
    return out.unify_dictionaries() if keyed else out


def _keyed_frame(table: pa.Table) -> pd.DataFrame:
    """Probe/interval rows with a categorical measurement key (as export readers give)."""
    for name in table.column_names:
        col = table.column(name)
        if pa.types.is_floating(col.type) and pc.any(pc.is_nan(col)).as_py():
            raise DataError(f"dataset column {name} holds NaN; a missing value must be null")
    if not pa.types.is_dictionary(table.column("measurement_id").type):
        ids = pc.dictionary_encode(table.column("measurement_id"))
        table = table.set_column(0, "measurement_id", ids)
    return _arrow_to_frame(table, table.column_names)


def _read_timezones(root: Path) -> pd.DataFrame:
    files = sorted(root.glob("agents/agent=*/timezone.parquet"))
    if not files:
        return pd.DataFrame({"agent_id": pd.Series(dtype=object), "timezone": []})
    tables = [pq.read_table(f, schema=AGENTS_SCHEMA) for f in files]
    return pa.concat_tables(tables).to_pandas()
