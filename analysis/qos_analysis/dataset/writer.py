"""Append batches to the partitioned dataset, exactly once per measurement id.

Idempotence: a measurement lands in the partition of its UTC start date and agent, so a
re-sent record always meets its earlier copy there; the writer keeps the ids of recently
used partitions in memory and reads only the parts it has not seen yet (another process
may have written them).  Ids repeated inside one batch keep their first copy.

Durability: probe and interval parts are written first and the measurements part last, each
through :func:`qos.durable.atomic_write`; when :meth:`write_tables`
returns, the batch is on disk.  One writer at a time per dataset: a ``flock`` on
``.writer.lock`` serialises processes, a mutex serialises threads.
"""

from __future__ import annotations

import fcntl
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from qos.durable import atomic_write
from qos.errors import StoreError
from qos.records import Measurement
from qos_analysis.dataset.layout import agent_segment, ensure_dataset, partition_dir
from qos_analysis.dataset.schema import AGENTS_SCHEMA, SCHEMAS, TABLES, tables_from_measurements

_CACHE_PARTITIONS = 1024


@dataclass
class WriteReport:
    """Ids stored by a write and ids that were already there (or repeated in the batch)."""

    accepted: list[str] = field(default_factory=list)
    duplicate: list[str] = field(default_factory=list)
    files: int = 0


@dataclass
class _KnownIds:
    parts: set[str] = field(default_factory=set)
    ids: set[str] = field(default_factory=set)


class DatasetWriter:
    """Writes record batches (or ready Arrow tables) into a dataset directory."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        ensure_dataset(self.root)
        self._mutex = threading.Lock()
        self._known: OrderedDict[tuple[str, str], _KnownIds] = OrderedDict()

    def write_records(self, records: Iterable[Measurement]) -> WriteReport:
        return self.write_tables(tables_from_measurements(records))

    def write_tables(self, tables: Mapping[str, pa.Table]) -> WriteReport:
        """Store the rows of ``tables`` (``measurements`` plus optional ``probes`` and
        ``intervals`` keyed by ``measurement_id``) whose ids are new."""
        meas = tables["measurements"].cast(SCHEMAS["measurements"])
        children = {
            t: tables[t].cast(SCHEMAS[t]) if t in tables else SCHEMAS[t].empty_table()
            for t in TABLES[1:]
        }
        report = WriteReport()
        if meas.num_rows == 0:
            return report
        with self._locked():
            for (date, agent), rows in _partitions(meas):
                self._write_partition(date, agent, meas.take(rows), children, report)
        return report

    def write_timezones(self, timezones: Mapping[str, str]) -> None:
        """Record agents' IANA time zones (local-time windows and peak hours need them)."""
        with self._locked():
            for agent, tz in timezones.items():
                table = pa.Table.from_pydict(
                    {"agent_id": [agent], "timezone": [tz]}, schema=AGENTS_SCHEMA
                )
                target = self.root / "agents" / agent_segment(agent) / "timezone.parquet"
                atomic_write(target, partial(_write_parquet, table), make_parents=True)

    # -- internals ---------------------------------------------------------------------------
    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._mutex, (self.root / ".writer.lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _write_partition(
        self,
        date: str,
        agent: str,
        meas: pa.Table,
        children: Mapping[str, pa.Table],
        report: WriteReport,
    ) -> None:
        known = self._known_ids(date, agent)
        ids = meas.column("measurement_id").to_pylist()
        keep = np.ones(len(ids), dtype=bool)
        seen: set[str] = set()
        for i, mid in enumerate(ids):
            if mid in known.ids or mid in seen:
                keep[i] = False
                report.duplicate.append(mid)
            seen.add(mid)
        if not keep.any():
            return
        new = meas.filter(pa.array(keep))
        new_ids = new.column("measurement_id")
        name = f"part-{uuid.uuid4().hex}.parquet"
        for table in TABLES[1:]:  # children first: the measurements part commits the batch
            rows = children[table]
            rows = rows.filter(pc.is_in(rows.column("measurement_id"), value_set=new_ids))
            if rows.num_rows:
                self._write_file(table, date, agent, name, rows)
                report.files += 1
        self._write_file("measurements", date, agent, name, new)
        report.files += 1
        known.parts.add(name)
        known.ids.update(new_ids.to_pylist())
        report.accepted.extend(new_ids.to_pylist())

    def _write_file(self, table: str, date: str, agent: str, name: str, rows: pa.Table) -> None:
        target = partition_dir(self.root, table, date, agent) / name
        atomic_write(target, partial(_write_parquet, rows), make_parents=True)

    def _known_ids(self, date: str, agent: str) -> _KnownIds:
        key = (date, agent)
        known = self._known.pop(key, None) or _KnownIds()
        self._known[key] = known
        while len(self._known) > _CACHE_PARTITIONS:
            self._known.popitem(last=False)
        folder = partition_dir(self.root, "measurements", date, agent)
        if folder.is_dir():
            for part in sorted(folder.glob("part-*.parquet")):
                if part.name in known.parts:
                    continue
                try:
                    column = pq.read_table(part, columns=["measurement_id"]).column(0)
                except (OSError, pa.ArrowException) as exc:
                    raise StoreError(f"{part}: unreadable dataset part: {exc}") from None
                known.ids.update(column.to_pylist())
                known.parts.add(part.name)
        return known


def _write_parquet(table: pa.Table, path: Path) -> None:
    pq.write_table(table, path, compression="zstd")


def _partitions(meas: pa.Table) -> Iterator[tuple[tuple[str, str], np.ndarray]]:
    """(UTC date, agent) → row indices of ``meas``, in first-seen order."""
    dates = pc.strftime(meas.column("started_at"), format="%Y-%m-%d").to_numpy(zero_copy_only=False)
    agents = meas.column("agent_id").to_numpy(zero_copy_only=False)
    codes, uniques = pd.factorize(pd.MultiIndex.from_arrays([dates, agents]))
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
    for k, key in enumerate(uniques):
        yield (str(key[0]), str(key[1])), order[bounds[k] : bounds[k + 1]]
