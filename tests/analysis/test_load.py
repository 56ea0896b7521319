"""Loading stores and exports into tidy frames (docs/architecture.md §2.5).

Data is written through the real code path (qos.records → SqliteStore.append) and
exported with the agent's exporter, then loaded; every format must give the same frames.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from qos.errors import SchemaVersionError
from qos.records import LossDirection, Measurement, ProbeSample, Status
from qos.serialization import measurement_to_dict
from qos.store.sqlite import SqliteStore
from qos_analysis import DataError, load
from tests.analysis.synthetic import (
    T0,
    failed_rtt,
    rtt_measurement,
    throughput,
    timing,
    write_store,
)
from tests.factories import measurement, rtt_result

export_store = pytest.importorskip("qos_agent.export").export_store


def _sample_measurements() -> list[Measurement]:
    rng = np.random.default_rng(5)
    stamp = measurement(
        agent_id="agent-a",
        collector="stamp",
        target="198.18.0.9",
        started_at=T0,
        duration_s=0.1,
        result=rtt_result(
            (
                ProbeSample(
                    0,
                    0.0,
                    0.010,
                    ttl=64,
                    size_bytes=44,
                    forward_delay_s=0.004,
                    backward_delay_s=0.006,
                    reflector_residence_s=1e-5,
                    one_way_valid=True,
                    reflector_ttl=255,
                ),
                ProbeSample(
                    1, 0.02, None, lost_direction=LossDirection.FORWARD, one_way_valid=True
                ),
                ProbeSample(2, 0.04, 0.011, duplicates=1, one_way_valid=False),
            ),
        ),
        params={"count": 3},
    )
    return [
        rtt_measurement(
            rng, T0 + timedelta(minutes=1), 20, base_rtt_s=0.03, jitter_s=0.005, loss=0.1
        ),
        failed_rtt(T0 + timedelta(minutes=2), count=5),
        failed_rtt(
            T0 + timedelta(minutes=3), count=7, with_probes=False, status=Status.UNREACHABLE
        ),
        throughput(T0 + timedelta(minutes=4), 93.5e6),
        throughput(T0 + timedelta(minutes=5), None, status=Status.TIMEOUT, direction="upload"),
        timing(T0 + timedelta(minutes=6), 0.25),
        stamp,
    ]


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return write_store(
        tmp_path / "store.sqlite", _sample_measurements(), {"agent-a": "Europe/Berlin"}
    )


def test_sqlite_frames_are_tidy_and_typed(store: Path) -> None:
    data = load(store)
    m, p, i = data.measurements, data.probes, data.intervals
    assert len(m) == 7
    assert str(m["started_at"].dtype) == "datetime64[us, UTC]"
    assert m["started_at"].iloc[0] == pd.Timestamp(T0 + timedelta(minutes=1))
    assert set(m["timezone"]) == {"Europe/Berlin"}
    assert list(m["status"]) == ["ok", "timeout", "unreachable", "ok", "timeout", "ok", "ok"]
    # Probe counts per measurement, failed ones included.
    assert m["probes_sent"].tolist() == [20, 5, 0, 0, 0, 0, 3]
    assert m.loc[1, "probes_received"] == 0
    assert m.loc[2, "probes_expected"] == 7
    assert m.loc[3, "direction"] == "download" and m.loc[3, "goodput_bps"] == 93.5e6
    assert m.loc[4, "direction"] == "upload" and np.isnan(m.loc[4, "goodput_bps"])
    assert m.loc[5, "transaction_time_s"] == 0.25
    assert len(p) == 28
    assert p["rtt_s"].dtype == np.float64 and p["lost"].dtype == bool
    assert (p["lost"] == p["rtt_s"].isna()).all()
    stamp = p[p["measurement_id"] == m.loc[6, "measurement_id"]].reset_index(drop=True)
    assert stamp["forward_delay_s"].iloc[0] == 0.004
    assert stamp["lost_direction"].iloc[1] == "forward"
    assert stamp["one_way_valid"].tolist() == [True, True, False]
    assert stamp["duplicates"].tolist() == [0, 0, 1]
    assert stamp["reflector_ttl"].iloc[0] == 255 and pd.isna(stamp["reflector_ttl"].iloc[1])
    assert len(i) == 10 and (i["rate_bps"] > 0).all()
    assert data.agents.to_dict("records") == [{"agent_id": "agent-a", "timezone": "Europe/Berlin"}]


def _canonical(data: object) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    m = data.measurements.drop(columns=["source", "result_json", "params_json"])  # type: ignore[attr-defined]
    p = data.probes.assign(measurement_id=data.probes["measurement_id"].astype(str))  # type: ignore[attr-defined]
    i = data.intervals.assign(measurement_id=data.intervals["measurement_id"].astype(str))  # type: ignore[attr-defined]
    return (
        m.sort_values("measurement_id").reset_index(drop=True),
        p.sort_values(["measurement_id", "seq"]).reset_index(drop=True),
        i.sort_values(["measurement_id", "stream", "start_offset_s"]).reset_index(drop=True),
    )


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_exports_load_the_same_as_the_store(store: Path, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"export-{fmt}"
    with SqliteStore(store, readonly=True) as s:
        export_store(s, out, fmt)
    if fmt == "jsonl":  # JSONL carries no agents table; give the zone next to it
        pd.DataFrame({"agent_id": ["agent-a"], "timezone": ["Europe/Berlin"]}).to_csv(
            out / "agents.csv", index=False
        )
    ref_m, ref_p, ref_i = _canonical(load(store))
    got_m, got_p, got_i = _canonical(load(out))
    pd.testing.assert_frame_equal(got_m, ref_m, check_dtype=False)
    pd.testing.assert_frame_equal(got_p, ref_p, check_dtype=False)
    pd.testing.assert_frame_equal(got_i, ref_i, check_dtype=False)
    for col in ("rtt_s", "seq", "lost"):
        assert got_p[col].dtype == ref_p[col].dtype


def test_many_agents_directories_and_globs(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    a = write_store(
        tmp_path / "a" / "a.sqlite",
        [rtt_measurement(rng, T0, 10, base_rtt_s=0.01, jitter_s=0.0)],
        {"agent-a": "UTC"},
    )
    b = write_store(
        tmp_path / "b" / "b.sqlite",
        [rtt_measurement(rng, T0, 4, base_rtt_s=0.02, jitter_s=0.0, agent_id="agent-b")],
        {"agent-b": "Asia/Kolkata"},
    )
    data = load([a, b])
    assert sorted(data.measurements["agent_id"]) == ["agent-a", "agent-b"]
    assert len(data.probes) == 14
    assert dict(zip(data.measurements["agent_id"], data.measurements["timezone"], strict=True)) == {
        "agent-a": "UTC",
        "agent-b": "Asia/Kolkata",
    }
    # The same source twice is read once; a directory and a glob find the stores.
    assert len(load([a, a]).probes) == 10
    assert len(load(tmp_path).probes) == 14
    assert len(load(str(tmp_path / "*" / "*.sqlite")).probes) == 14
    # A Parquet "dataset": a directory of export directories.
    for name, path in (("a", a), ("b", b)):
        with SqliteStore(path, readonly=True) as s:
            export_store(s, tmp_path / "exports" / name, "parquet")
    both = load(tmp_path / "exports")
    assert len(both.measurements) == 2 and len(both.probes) == 14
    # Overlapping exports of the same measurements are not double-counted.
    shutil.copytree(tmp_path / "exports" / "a", tmp_path / "exports" / "a-copy")
    again = load(tmp_path / "exports")
    assert len(again.measurements) == 2 and len(again.probes) == 14
    assert any("more than one source" in n for n in again.notes)


def test_store_is_read_while_the_agent_writes(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    path = tmp_path / "live.sqlite"
    with SqliteStore(path) as writer:
        writer.append(rtt_measurement(rng, T0, 5, base_rtt_s=0.01, jitter_s=0.0))
        assert len(load(path).probes) == 5
        writer.append(
            rtt_measurement(rng, T0 + timedelta(seconds=1), 5, base_rtt_s=0.01, jitter_s=0.0)
        )
        assert len(load(path).probes) == 10


def test_missing_and_malformed_inputs_name_the_file(tmp_path: Path, store: Path) -> None:
    with pytest.raises(DataError, match=r"nowhere\.sqlite: no such file"):
        load(tmp_path / "nowhere.sqlite")
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not a database at all")
    with pytest.raises(DataError, match=r"junk\.sqlite: not a SQLite database"):
        load(junk)
    other = tmp_path / "other.txt"
    other.write_text("hello")
    with pytest.raises(DataError, match=r"other\.txt: unknown data format"):
        load(other)
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    with pytest.raises(DataError, match="holds no qos-toolkit export"):
        load(empty_dir)
    with pytest.raises(DataError, match="no file or directory matches"):
        load(str(tmp_path / "*.nothing"))
    # Broken CSV export: a required column is missing.
    out = tmp_path / "csv"
    with SqliteStore(store, readonly=True) as s:
        export_store(s, out, "csv")
    frame = pd.read_csv(out / "measurements.csv").drop(columns=["status"])
    frame.to_csv(out / "measurements.csv", index=False)
    with pytest.raises(DataError, match=r"measurements.csv: missing column\(s\) status"):
        load(out)
    # Broken Parquet file.
    pq_dir = tmp_path / "pq"
    with SqliteStore(store, readonly=True) as s:
        export_store(s, pq_dir, "parquet")
    (pq_dir / "probes.parquet").write_bytes(b"PAR1 garbage")
    with pytest.raises(DataError, match=r"probes\.parquet: not a readable Parquet file"):
        load(pq_dir)
    # JSONL with a bad line: the line number is named.
    jl = tmp_path / "bad.jsonl"
    good = json.dumps(measurement_to_dict(_sample_measurements()[0]))
    jl.write_text(good + "\n{not json\n")
    with pytest.raises(DataError, match=r"bad.jsonl:2: not valid JSON"):
        load(jl)


def test_nan_delay_in_parquet_is_refused(store: Path, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = tmp_path / "pq"
    with SqliteStore(store, readonly=True) as s:
        export_store(s, out, "parquet")
    table = pq.read_table(out / "probes.parquet")
    rtt = table.column("rtt_s").to_pylist()
    rtt[0] = float("nan")
    table = table.set_column(
        table.column_names.index("rtt_s"), "rtt_s", pa.array(rtt, pa.float64())
    )
    pq.write_table(table, out / "probes.parquet")
    with pytest.raises(DataError, match="rtt_s holds NaN"):
        load(out)


def test_newer_schemas_are_refused(store: Path, tmp_path: Path) -> None:
    newer = tmp_path / "newer.sqlite"
    shutil.copy(store, newer)
    conn = sqlite3.connect(newer)
    conn.execute("PRAGMA user_version = 99")
    conn.commit()
    conn.close()
    with pytest.raises(SchemaVersionError, match="newer"):
        load(newer)
    doc = measurement_to_dict(_sample_measurements()[0])
    doc["schema_version"] = 99
    jl = tmp_path / "newer.jsonl"
    jl.write_text(json.dumps(doc) + "\n")
    with pytest.raises(SchemaVersionError, match=r"newer\.jsonl:1"):
        load(jl)
    csv_dir = tmp_path / "csv"
    with SqliteStore(store, readonly=True) as s:
        export_store(s, csv_dir, "csv")
    frame = pd.read_csv(csv_dir / "measurements.csv")
    frame.loc[0, "schema_version"] = 7
    frame.to_csv(csv_dir / "measurements.csv", index=False)
    with pytest.raises(SchemaVersionError, match="schema_version 7"):
        load(csv_dir)


def test_empty_store_gives_empty_typed_frames(tmp_path: Path) -> None:
    path = tmp_path / "empty.sqlite"
    SqliteStore(path).close()
    data = load(path)
    assert data.empty and data.probes.empty
    assert "rtt_s" in data.probes.columns and "started_at" in data.measurements.columns
