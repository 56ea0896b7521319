"""``qos-agent export``: Parquet, CSV and JSONL copies hold exactly what the store holds."""

from __future__ import annotations

import csv
import json
import socket
import sqlite3
from pathlib import Path

import pytest

from qos.serialization import loads


@pytest.fixture
def filled_store(run_cli, tmp_path: Path) -> Path:
    store = tmp_path / "s.sqlite"
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        for _ in range(3):
            proc = run_cli(
                "once",
                "tcp_connect",
                f"127.0.0.1:{port}",
                "--param",
                "count=4",
                "--param",
                "interval=5ms",
                "--store",
                str(store),
            )
            assert proc.returncode == 0, proc.stderr
    proc = run_cli(
        "once", "tcp_connect", f"127.0.0.1:{port}", "--param", "count=2", "--store", str(store)
    )  # closed by now: unreachable, all probes lost
    assert proc.returncode == 1
    return store


def _store_counts(store: Path) -> tuple[int, int, int]:
    with sqlite3.connect(store) as conn:
        m = conn.execute("SELECT COUNT(*) FROM measurements").fetchone()[0]
        p = conn.execute("SELECT COUNT(*) FROM probes").fetchone()[0]
        lost = conn.execute("SELECT COUNT(*) FROM probes WHERE rtt_s IS NULL").fetchone()[0]
    return m, p, lost


def test_parquet_export_matches_store(run_cli, filled_store: Path, tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "pq"
    proc = run_cli(
        "export", "--format", "parquet", "--output", str(out), "--store", str(filled_store)
    )
    assert proc.returncode == 0, proc.stderr
    m, p, lost = _store_counts(filled_store)
    measurements = pq.read_table(out / "measurements.parquet")
    probes = pq.read_table(out / "probes.parquet")
    assert measurements.num_rows == m == 4 and probes.num_rows == p == 14
    assert str(measurements.schema.field("started_at").type) == "timestamp[us, tz=UTC]"
    assert probes.column("rtt_s").null_count == lost == 2
    assert set(probes.column("measurement_id").to_pylist()) <= set(
        measurements.column("measurement_id").to_pylist()
    )
    assert pq.read_table(out / "agents.parquet").num_rows == 1


def test_csv_export_matches_store(run_cli, filled_store: Path, tmp_path: Path) -> None:
    out = tmp_path / "csv"
    proc = run_cli("export", "--format", "csv", "--output", str(out), "--store", str(filled_store))
    assert proc.returncode == 0, proc.stderr
    m, p, lost = _store_counts(filled_store)
    with (out / "measurements.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == m and rows[0]["started_at"].endswith("+00:00")
    with (out / "probes.csv").open() as fh:
        probes = list(csv.DictReader(fh))
    assert len(probes) == p and sum(r["rtt_s"] == "" for r in probes) == lost


def test_jsonl_export_round_trips_records(run_cli, filled_store: Path, tmp_path: Path) -> None:
    out = tmp_path / "jsonl"
    proc = run_cli(
        "export", "--format", "jsonl", "--output", str(out), "--store", str(filled_store)
    )
    assert proc.returncode == 0, proc.stderr
    assert (out / "agents.csv").read_text().splitlines()[0] == "agent_id,timezone"
    lines = (out / "measurements.jsonl").read_text().splitlines()
    records = [loads(line) for line in lines]
    assert len(records) == 4
    assert sum(r.result.sent for r in records) == 14
    assert json.loads(lines[0])["schema_version"] == 1


def test_export_of_missing_store_fails_clearly(run_cli, tmp_path: Path) -> None:
    proc = run_cli(
        "export",
        "--format",
        "csv",
        "--output",
        str(tmp_path / "o"),
        "--store",
        str(tmp_path / "nope.sqlite"),
    )
    assert proc.returncode == 2
    assert "no such store" in proc.stderr
