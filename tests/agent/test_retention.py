"""Retention: prune by age and by size never removes undelivered records; the file shrinks."""

from __future__ import annotations

import os
import sqlite3
from datetime import timedelta
from pathlib import Path

from qos.config import parse_config
from qos.records import Measurement, ProbeSample, RttResult, Status, utc_now
from qos.store import SqliteStore
from qos.store.schema import MIGRATIONS
from qos_agent.retention import enforce_max_size
from qos_agent.runtime import AgentRuntime


def _record(age_days: float, probes: int = 500) -> Measurement:
    """A stored record of a given age (a fixture for retention, not a measurement)."""
    return Measurement(
        agent_id="ret",
        collector="icmp",
        target="127.0.0.1",
        started_at=utc_now() - timedelta(days=age_days),
        duration_s=1.0,
        status=Status.OK,
        result=RttResult(
            probes=[ProbeSample(seq=i, send_offset_s=i * 1e-3, rtt_s=1e-4) for i in range(probes)]
        ),
    )


def _config(tmp_path: Path, exporters: bool = True) -> Path:
    path = tmp_path / "agent.toml"
    text = f'[agent]\ntimezone = "UTC"\n[store]\npath = "{tmp_path / "s.sqlite"}"\n'
    if exporters:
        text += f'[[exporters]]\nname = "lines"\ntype = "jsonl"\npath = "{tmp_path / "l.jsonl"}"\n'
    path.write_text(text)
    return path


def test_prune_keeps_undelivered_records_unless_forced_and_shrinks_the_file(
    tmp_path: Path, run_cli
) -> None:
    config = _config(tmp_path)
    store_path = tmp_path / "s.sqlite"
    with SqliteStore(store_path) as store:
        store.set_cursor("lines", 0)
        old = [_record(100 + i) for i in range(40)]
        for m in old:
            store.append(m)
        store.set_cursor("lines", store.max_mid() - 10)  # the last 10 are not delivered
        store.append(_record(1))
        store.checkpoint()
    before = store_path.stat().st_size
    result = run_cli("prune", "--older-than", "90d", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert "removed 30 measurements" in result.stdout
    assert "kept 10 older measurements" in result.stdout
    with SqliteStore(store_path) as store:
        assert store.count() == 11
        assert store.integrity_check() == "ok"
    after = store_path.stat().st_size
    assert after < before * 0.5, (before, after)
    result = run_cli("prune", "--older-than", "90d", "--force", "--config", str(config))
    assert "removed 10 measurements" in result.stdout
    with SqliteStore(store_path) as store:
        assert store.count() == 1
        assert store.cursors()["lines"] <= store.max_mid()


def test_max_size_prunes_only_delivered_records(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "s.sqlite") as store:
        for i in range(30):
            store.append(_record(30 - i))
        size = store.size_bytes()
        delivered = store.max_mid() - 5
        enforce_max_size(store, size / 3, delivered)
        assert store.size_bytes() <= size / 3 or store.count() == 5
        assert {m for m in range(delivered + 1, store.max_mid() + 1)} <= {
            r[0] for r in store._conn.execute("SELECT mid FROM measurements")
        }
        ages = [m.started_at for m in store.iter_measurements()]
        assert ages == sorted(ages)  # the oldest went first
        assert store.integrity_check() == "ok"
    assert os.path.getsize(tmp_path / "s.sqlite") < size


def test_runtime_applies_max_size(tmp_path: Path) -> None:
    doc = {
        "agent": {"id": "r", "timezone": "UTC"},
        "store": {"path": str(tmp_path / "s.sqlite"), "max_size": "400kB"},
    }
    runtime = AgentRuntime(parse_config(doc, file="t"))
    for i in range(40):
        assert runtime.commit(_record(40 - i))
    assert runtime.store.size_bytes() <= 400_000
    assert 0 < runtime.store.count() < 40
    runtime.close()


def test_a_version_1_store_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "v1.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    MIGRATIONS[0](conn)
    conn.execute("PRAGMA user_version = 1")
    conn.close()
    with SqliteStore(path) as store:
        m = _record(1, probes=3)
        store.append(m)
        assert store.schema_version == 2
        assert store.cursors() == {}
        store.set_cursor("x", store.max_mid())
        store.shrink()  # converts the pre-auto_vacuum file once (full VACUUM)
        assert store._conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2
        assert store.get(m.id) == m
