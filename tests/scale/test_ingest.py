"""``qos ingest``: JSONL, Parquet/CSV exports and SQLite stores into a dataset, exactly once,
with bad files quarantined beside a reason."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from qos.serialization import dumps, measurement_to_dict
from qos.store.sqlite import SqliteStore
from qos_agent.export import export_store
from qos_analysis.cli import main
from qos_analysis.load import load
from tests.scale.records import mixed_batch


def _store(path: Path, records) -> Path:
    with SqliteStore(path) as store:
        for m in records:
            store.append(m)
    return path


def test_every_export_format_lands_once(tmp_path: Path, capsys) -> None:
    a, b, c = mixed_batch("a", seed=1), mixed_batch("b", seed=2), mixed_batch("c", seed=3)
    with SqliteStore(tmp_path / "b.sqlite") as store:
        for m in b:
            store.append(m)
        export_store(store, tmp_path / "b-parquet", "parquet")
    with SqliteStore(tmp_path / "c.sqlite") as store:
        for m in c:
            store.append(m)
        export_store(store, tmp_path / "c-csv", "csv")
    (tmp_path / "a.jsonl").write_text("".join(dumps(m) + "\n" for m in a))
    sources = [tmp_path / "a.jsonl", tmp_path / "b-parquet", tmp_path / "c-csv"]
    ds = tmp_path / "ds"
    assert main(["ingest", *map(str, sources), "--into", str(ds), "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert [r["accepted"] for r in first] == [len(a), len(b), len(c)]
    # again, plus the SQLite store that holds b's records: nothing new
    assert (
        main(
            ["ingest", *map(str, sources), str(tmp_path / "b.sqlite"), "--into", str(ds), "--json"]
        )
        == 0
    )
    again = json.loads(capsys.readouterr().out)
    assert [r["accepted"] for r in again] == [0, 0, 0, 0]
    assert [r["duplicate"] for r in again] == [len(a), len(b), len(c), len(b)]
    got = load(ds)
    want = load([tmp_path / "a.jsonl", tmp_path / "b.sqlite", tmp_path / "c.sqlite"])
    assert sorted(got.measurements["measurement_id"]) == sorted(want.measurements["measurement_id"])
    keys = ["measurement_id", "seq"]
    g = got.probes.assign(measurement_id=got.probes["measurement_id"].astype(str))
    w = want.probes.assign(measurement_id=want.probes["measurement_id"].astype(str))
    pd.testing.assert_frame_equal(
        g.sort_values(keys).reset_index(drop=True),
        w.sort_values(keys).reset_index(drop=True),
        check_dtype=False,
        check_categorical=False,
    )


def test_bad_lines_are_quarantined_and_good_ones_kept(tmp_path: Path, capsys) -> None:
    good = mixed_batch("a", seed=4, hours=1)
    bad_version = measurement_to_dict(mixed_batch("a", seed=5, hours=1)[0])
    bad_version["schema_version"] = 99
    lines = [dumps(m) for m in good] + ["{oops", json.dumps(bad_version), "[]"]
    src = tmp_path / "mixed.jsonl"
    src.write_text("\n".join(lines) + "\n")
    broken = tmp_path / "broken-export"
    broken.mkdir()
    (broken / "measurements.parquet").write_bytes(b"PAR1 not really")
    ds = tmp_path / "ds"
    assert main(["ingest", str(src), str(broken), "--into", str(ds)]) == 2
    out = capsys.readouterr().out
    assert f"{len(good)} stored" in out and "3 rejected" in out
    quarantined = sorted(p.name for p in (ds / "quarantine").iterdir())
    assert len(quarantined) == 4  # two inputs, each with its reason file
    reason = next((ds / "quarantine").glob("*mixed.jsonl.reason.txt")).read_text()
    n = len(good)
    assert f"line {n + 1}: not valid JSON" in reason
    assert f"line {n + 2}: record schema_version 99 is newer" in reason
    assert f"line {n + 3}: a record must be a JSON object" in reason
    assert src.exists()  # the original stays where it was
    assert next((ds / "quarantine").glob("*broken-export.reason.txt")).read_text().strip()
    assert sorted(load(ds).measurements["measurement_id"]) == sorted(m.id for m in good)


def test_a_folder_holding_a_dataset_loads_it_without_its_quarantine(tmp_path: Path) -> None:
    good = mixed_batch("a", seed=8, hours=1)
    src = tmp_path / "in.jsonl"
    src.write_text("".join(dumps(m) + "\n" for m in good) + "{bad\n")
    bad_store = tmp_path / "bad.sqlite"
    bad_store.write_bytes(b"not a database at all")
    ds = tmp_path / "panel" / "ds"
    assert main(["ingest", str(src), str(bad_store), "--into", str(ds)]) == 2
    assert len(list((ds / "quarantine").iterdir())) == 4
    data = load(tmp_path / "panel")  # the parent folder: the dataset is its only source
    assert sorted(data.measurements["measurement_id"]) == sorted(m.id for m in good)
