"""The partitioned Parquet dataset: export-compatible columns, Hive layout, exactly once by
measurement id, committed batches only (a writer killed mid-batch loses nothing that was
acknowledged and leaves nothing half-visible)."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from qos.store.sqlite import SqliteStore
from qos_agent.export import export_store
from qos_analysis.dataset import DatasetWriter, read_dataset
from qos_analysis.dataset.schema import SCHEMAS
from qos_analysis.load import SCORING_PROBE_COLUMNS, DataError, load
from qos_analysis.scoring import score
from tests.scale.records import mixed_batch

REPO = Path(__file__).resolve().parents[2]


def _frames_equal(a: pd.DataFrame, b: pd.DataFrame, key: list[str]) -> None:
    a, b = (
        f.drop(columns=["source"], errors="ignore")
        .assign(measurement_id=f["measurement_id"].astype(str))
        .sort_values(key)
        .reset_index(drop=True)
        for f in (a, b)
    )
    pd.testing.assert_frame_equal(a, b, check_dtype=False, check_categorical=False)


def _export(records: list, directory: Path) -> None:
    """``records`` stored in an agent's store and exported as ``qos-agent export`` does."""
    with SqliteStore(directory.parent / "s.sqlite") as store:
        for m in records:
            store.append(m)
        export_store(store, directory, "parquet")


def test_columns_are_those_of_the_agent_parquet_export(tmp_path: Path) -> None:
    records = mixed_batch()
    _export(records, tmp_path / "export")
    writer = DatasetWriter(tmp_path / "ds")
    writer.write_records(records)
    for table, schema in SCHEMAS.items():
        exported = pq.read_schema(tmp_path / "export" / f"{table}.parquet")
        assert exported.remove_metadata() == schema
        part = next((tmp_path / "ds" / table).rglob("part-*.parquet"))
        assert pq.read_schema(part).remove_metadata() == schema


def test_dataset_loads_like_the_export_of_the_same_records(tmp_path: Path) -> None:
    records = mixed_batch("agent-a") + mixed_batch("agent-b", seed=2)
    _export(records, tmp_path / "export")
    report = DatasetWriter(tmp_path / "ds").write_records(records)
    assert sorted(report.accepted) == sorted(m.id for m in records)
    got, want = load(tmp_path / "ds"), load(tmp_path / "export")
    assert len(got.probes) == sum(len(m.result.probes) for m in records if m.kind == "rtt")
    _frames_equal(got.measurements, want.measurements, ["measurement_id"])
    _frames_equal(got.probes, want.probes, ["measurement_id", "seq"])
    _frames_equal(got.intervals, want.intervals, ["measurement_id", "start_offset_s"])


def test_probe_columns_selects_the_same_values_from_a_dataset_and_an_export(
    tmp_path: Path,
) -> None:
    records = mixed_batch("agent-a") + mixed_batch("agent-b", seed=2)
    _export(records, tmp_path / "export")
    DatasetWriter(tmp_path / "ds").write_records(records)
    full = load(tmp_path / "ds")
    for source in (tmp_path / "ds", tmp_path / "export"):
        some = load(source, probe_columns=SCORING_PROBE_COLUMNS)
        assert list(some.probes.columns) == ["measurement_id", *SCORING_PROBE_COLUMNS, "lost"]
        want = full.probes[list(some.probes.columns)]
        _frames_equal(some.probes, want, ["measurement_id", "send_offset_s"])
        _frames_equal(some.measurements, full.measurements, ["measurement_id"])
    assert list(load(tmp_path / "ds", probe_columns=["seq"]).probes.columns) == [
        "measurement_id",
        "seq",
        "send_offset_s",
        "rtt_s",
        "lost",
    ]
    with pytest.raises(DataError, match="unknown probe column"):
        load(tmp_path / "ds", probe_columns=["rtt_s", "jitter"])


def test_without_intervals_the_other_tables_and_the_verdicts_are_unchanged(
    tmp_path: Path,
) -> None:
    records = mixed_batch("agent-a") + mixed_batch("agent-b", seed=2)
    _export(records, tmp_path / "export")
    DatasetWriter(tmp_path / "ds").write_records(records)
    for source in (tmp_path / "ds", tmp_path / "export"):
        full = load(source, probe_columns=SCORING_PROBE_COLUMNS)
        assert len(full.intervals)
        lean = load(source, probe_columns=SCORING_PROBE_COLUMNS, intervals=False)
        assert lean.intervals.empty
        assert list(lean.intervals.columns) == list(full.intervals.columns)
        pd.testing.assert_frame_equal(lean.measurements, full.measurements)
        pd.testing.assert_frame_equal(lean.probes, full.probes)
        speeds = {"required_download": "50Mbit/s", "required_upload": "10Mbit/s"}
        for profile, params in (("y1541/class0", {}), ("fcc-caf", speeds)):
            pd.testing.assert_frame_equal(
                score(lean, profile, params=params), score(full, profile, params=params)
            )


def test_partitions_by_utc_date_and_agent_with_safe_names(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    DatasetWriter(root).write_records(mixed_batch("../x/y") + mixed_batch("agent-a", seed=3))
    parts = sorted(p.relative_to(root).as_posix() for p in root.rglob("part-*.parquet"))
    dirs = sorted({p.rsplit("/", 1)[0] for p in parts if p.startswith("measurements/")})
    assert dirs == [
        "measurements/date=2026-03-02/agent=..%2Fx%2Fy",
        "measurements/date=2026-03-02/agent=agent-a",
        "measurements/date=2026-03-03/agent=..%2Fx%2Fy",
        "measurements/date=2026-03-03/agent=agent-a",
    ]
    assert all(p.resolve().is_relative_to(root.resolve()) for p in root.rglob("*"))
    assert set(load(root).measurements["agent_id"]) == {"../x/y", "agent-a"}


def test_a_repeated_batch_is_stored_once_and_reported_duplicate(tmp_path: Path) -> None:
    records = mixed_batch()
    writer = DatasetWriter(tmp_path / "ds")
    first = writer.write_records(records)
    again = DatasetWriter(tmp_path / "ds").write_records([*records, records[0]])
    assert len(first.accepted) == len(records) and first.duplicate == []
    assert again.accepted == [] and sorted(again.duplicate) == sorted(
        [m.id for m in records] + [records[0].id]
    )
    inside = DatasetWriter(tmp_path / "ds2").write_records([records[0], records[0]])
    assert inside.accepted == [records[0].id] and inside.duplicate == [records[0].id]
    data = load(tmp_path / "ds")
    assert data.measurements["measurement_id"].is_unique
    assert len(data.measurements) == len(records)


def test_concurrent_writers_store_each_id_once(tmp_path: Path) -> None:
    records = mixed_batch(hours=4)
    reports = []

    def push() -> None:
        reports.append(DatasetWriter(tmp_path / "ds").write_records(records))

    threads = [threading.Thread(target=push) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(len(r.accepted) for r in reports) == len(records)
    data = read_dataset(tmp_path / "ds")
    assert sorted(data.measurements["measurement_id"]) == sorted(m.id for m in records)


_CRASH = """
import os, sys
from qos_analysis.dataset import DatasetWriter
from qos_analysis.dataset import writer as w
from tests.scale.records import mixed_batch

original = w.DatasetWriter._write_file
def dying(self, table, *args):
    if table == "measurements":
        os._exit(9)  # killed after the probe parts, before the commit
    return original(self, table, *args)
w.DatasetWriter._write_file = dying
DatasetWriter(sys.argv[1]).write_records(mixed_batch())
"""


def test_a_writer_killed_mid_batch_leaves_no_visible_rows(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    proc = subprocess.run(
        [sys.executable, "-c", _CRASH, str(root)],
        cwd=REPO,
        env={"PYTHONPATH": f"{REPO}:{REPO / 'agent'}:{REPO / 'analysis'}", "PATH": "/usr/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 9, proc.stderr
    assert list((root / "probes").rglob("part-*.parquet"))  # orphans were written
    assert read_dataset(root).measurements.empty
    records = mixed_batch()  # the sender never got an answer and pushes again
    report = DatasetWriter(root).write_records(records)
    assert len(report.accepted) == len(records)
    data = load(root)
    expected = sum(len(m.result.probes) for m in records if m.kind == "rtt")
    assert len(data.probes) == expected
    assert not data.probes.duplicated(["measurement_id", "seq"]).any()


def test_a_missing_marker_is_a_clear_error(tmp_path: Path) -> None:
    from qos_analysis.readers import DataError

    (tmp_path / "measurements").mkdir()
    with pytest.raises(DataError, match="not a qos-toolkit dataset"):
        read_dataset(tmp_path)
