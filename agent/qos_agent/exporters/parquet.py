"""``type = "parquet"``: Parquet files of records, one file per rotation period or size.

A Parquet file cannot be appended to, so delivered records first go to a spool (JSON Lines
beside ``path``, flushed and fsync'd: delivery is durable before the cursor moves).  When the
spool reaches ``rotate_size`` or the ``rotate_interval`` period (default ``1d``) ends, it is
converted to ``<stem>-<UTC time>.parquet`` (written atomically, :mod:`qos.durable`) and
emptied.  One row per record in the columns of the export layout's ``measurements`` table
(:mod:`qos.store.layout`), ``started_at`` as ``timestamp[us, UTC]`` and the full result
(probes and intervals included) in ``result_json``.

Options: ``path`` (required, e.g. ``"~/qos/records.parquet"``), ``rotate_size``,
``rotate_interval``.  Needs pyarrow (``pip install 'qos-toolkit[analysis]'``), imported
only at conversion time.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from qos.durable import atomic_write
from qos.errors import ConfigError
from qos.records import Measurement
from qos.serialization import dumps, loads, result_to_dict
from qos.store.layout import MEASUREMENTS
from qos.store.rows import envelope_values
from qos_agent.export import arrow_schema
from qos_agent.exporters.base import (
    ExporterContext,
    Rotation,
    check_options,
    check_writable,
    path_option,
    rotated_name,
)

OPTIONS = ("path", "rotate_size", "rotate_interval")


class ParquetExporter:
    durable: ClassVar[bool] = True

    def __init__(self, name: str, options: Mapping[str, Any], context: ExporterContext) -> None:
        self.name = name
        self.path, self.rotation = self._parse(name, options)
        self.spool = self.path.with_name(self.path.name + ".spool.jsonl")

    @staticmethod
    def _parse(name: str, options: Mapping[str, Any]) -> tuple[Path, Rotation]:
        check_options(name, options, OPTIONS)
        path = path_option(name, options, "path", "~/qos/records.parquet")
        rotation = Rotation.from_options(name, options)
        if rotation.size_bytes is None and rotation.period_s is None:
            rotation = Rotation(None, 86_400.0)
        try:
            import pyarrow  # noqa: F401  (fail at start, not at the first rotation)
        except ImportError:
            raise ConfigError(
                "the parquet exporter needs pyarrow: pip install 'qos-toolkit[analysis]'",
                key=f"exporters.{name}.type",
            ) from None
        return path, rotation

    @classmethod
    def check(cls, name: str, options: Mapping[str, Any]) -> None:
        """Validate the options and that the spool file can be appended to, without writing."""
        path, _rotation = cls._parse(name, options)
        check_writable(name, "path", path.with_name(path.name + ".spool.jsonl"))

    def export(self, measurement: Measurement) -> None:
        if self.rotation.due(self.spool):
            self.rotate()
        self.spool.parent.mkdir(parents=True, exist_ok=True)
        with self.spool.open("a", encoding="utf-8") as fh:
            start = fh.tell()
            try:
                fh.write(dumps(measurement) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            except BaseException:
                os.truncate(self.spool, start)
                raise

    def rotate(self) -> Path | None:
        """Convert the spool to a Parquet file; returns its path (None if nothing spooled)."""
        if not self.spool.exists() or self.spool.stat().st_size == 0:
            return None
        with self.spool.open(encoding="utf-8") as fh:
            records = [loads(line) for line in fh if line.strip()]
        target = rotated_name(self.path, ".parquet")
        atomic_write(target, lambda tmp: write_parquet(tmp, records))
        os.truncate(self.spool, 0)
        return target

    def close(self) -> None:
        """The spool stays for the next start; rotation happens by size or period only."""


def write_parquet(path: Path, records: list[Measurement]) -> None:
    """One row per record in the columns of :data:`qos.store.layout.MEASUREMENTS`."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = arrow_schema(MEASUREMENTS)
    rows = [_row(m) for m in records]
    arrays = [pa.array([r[i] for r in rows], type=f.type) for i, f in enumerate(schema)]
    pq.write_table(pa.Table.from_arrays(arrays, schema=schema), path, compression="zstd")


def _row(m: Measurement) -> tuple[Any, ...]:
    result = None if m.result is None else json.dumps(result_to_dict(m.result))
    return envelope_values(m, m.started_at, result)
