"""Offline ingest of exports carried on files into a dataset (``qos ingest``).

Inputs and their validation:

* JSON Lines of versioned records (``qos-agent export --format jsonl``, one record per
  line): each line is judged like a pushed record (:mod:`qos_analysis.collector.intake`);
  good lines are stored, and a file with any bad line is copied to ``quarantine/`` with a
  reason file listing the bad lines.
* Export directories (Parquet or CSV) and SQLite stores: read and checked as a whole by the
  loader; a source the loader refuses is quarantined with the loader's message.

Storage is the dataset writer's: exactly once by measurement id, so ingesting a file twice,
or a file that overlaps what the collector received, stores nothing twice.  Quarantine
copies the input (the original is left where it was).
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from qos_analysis.collector.intake import validate
from qos_analysis.dataset import DatasetWriter
from qos_analysis.dataset.schema import SCHEMAS
from qos_analysis.readers import DataError, RawPart, read_csv_table, read_source

QUARANTINE = "quarantine"


@dataclass
class IngestResult:
    path: str
    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    quarantined: str | None = None
    reasons: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "accepted": self.accepted,
            "duplicate": self.duplicate,
            "rejected": self.rejected,
            "quarantined": self.quarantined,
            "reasons": self.reasons[:20],
        }


def ingest(paths: list[Path], dataset: Path) -> list[IngestResult]:
    writer = DatasetWriter(dataset)
    results = []
    for path in paths:
        if path.suffix in (".jsonl", ".ndjson") and path.is_file():
            result = _ingest_jsonl(path, writer)
        else:
            result = _ingest_source(path, writer)
        if result.reasons:
            result.quarantined = str(_quarantine(path, dataset, result.reasons))
        results.append(result)
    return results


def _ingest_jsonl(path: Path, writer: DatasetWriter) -> IngestResult:
    result = IngestResult(str(path))
    docs: list[Any] = []
    lines: list[int] = []
    try:
        with path.open("r", encoding="utf-8") as handle:
            for lineno, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    docs.append(json.loads(line))
                except ValueError as exc:
                    result.reasons.append(f"line {lineno}: not valid JSON: {exc}")
                    result.rejected += 1
                    continue
                lines.append(lineno)
    except (OSError, UnicodeDecodeError) as exc:
        result.reasons.append(f"cannot read: {exc}")
        return result
    intake = validate(docs, agent_id=None)
    for r in intake.rejected:
        result.reasons.append(f"line {lines[r.index]}: {r.reason}")
    result.rejected += len(intake.rejected)
    report = writer.write_records(intake.valid)
    result.accepted, result.duplicate = len(report.accepted), len(report.duplicate)
    zones = path.parent / "agents.csv"
    if zones.is_file():
        try:
            frame = read_csv_table(zones, ("agent_id", "timezone"), required=True)
            writer.write_timezones(_zones(frame))
        except DataError as exc:
            result.reasons.append(str(exc))
    return result


def _ingest_source(path: Path, writer: DatasetWriter) -> IngestResult:
    result = IngestResult(str(path))
    try:
        part = read_source(path)
        tables = _tables(part)
    except (DataError, ValueError, TypeError, pa.ArrowException) as exc:
        result.reasons.append(str(exc))
        return result
    report = writer.write_tables(tables)
    writer.write_timezones(_zones(part.agents))
    result.accepted, result.duplicate = len(report.accepted), len(report.duplicate)
    return result


def _zones(frame: pd.DataFrame) -> dict[str, str]:
    frame = frame.dropna(subset=["agent_id", "timezone"])
    return dict(zip(frame["agent_id"].astype(str), frame["timezone"].astype(str), strict=True))


def _tables(part: RawPart) -> dict[str, pa.Table]:
    from qos_analysis.load import check_measurements

    check_measurements(part)
    out = {}
    for name, frame in (
        ("measurements", part.measurements),
        ("probes", part.probes),
        ("intervals", part.intervals),
    ):
        schema = SCHEMAS[name]
        frame = frame.assign(measurement_id=frame["measurement_id"].astype(str))
        columns = {}
        for f in schema:
            values = frame[f.name]
            if pa.types.is_boolean(f.type):
                values = values.map(lambda v: None if pd.isna(v) else bool(v)).astype(object)
            columns[f.name] = pa.array(values, type=f.type, from_pandas=True)
        out[name] = pa.table(columns, schema=schema)
    return out


def _quarantine(path: Path, dataset: Path, reasons: list[str]) -> Path:
    folder = dataset / QUARANTINE
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{time.strftime('%Y%m%dT%H%M%S')}-{path.name}"
    n = 1
    while target.exists():
        target = folder / f"{time.strftime('%Y%m%dT%H%M%S')}-{n}-{path.name}"
        n += 1
    if path.is_dir():
        shutil.copytree(path, target)
    elif path.exists():
        shutil.copy2(path, target)
    else:
        target.write_text("")
    target.with_name(target.name + ".reason.txt").write_text(
        "\n".join(reasons) + "\n", encoding="utf-8"
    )
    return target
