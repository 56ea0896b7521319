"""SqliteStore.read_columns and the one layout definition (qos.store.layout).

Column-wise reads hold exactly what the record reads hold, filter the same way, point every
probe and interval at its measurement, and come from one snapshot while the agent commits;
the layout's column lists agree with the record types and with the DDL of the store.
"""

from __future__ import annotations

import dataclasses
from array import array
from datetime import timedelta
from pathlib import Path

import pytest

from qos.records import Measurement, ProbeSample, ThroughputInterval
from qos.store import SqliteStore
from qos.store.columns import MEASUREMENT_INDEX, NullColumn, StoreColumns
from qos.store.layout import AGENTS, INTERVALS, MEASUREMENTS, PROBES
from qos.store.sqlite import to_epoch_us
from tests.qos.test_store import T0, rtt, throughput, timing


def _fill(path: Path) -> list[Measurement]:
    written = [
        rtt(0, probes=9),
        throughput(1),
        timing(2),
        rtt(3, probes=4, collector="tcp_connect", target="127.0.0.2"),
        rtt(4, probes=0),
    ]
    with SqliteStore(path) as store:
        store.register_agent("agent-1", timezone="Europe/Berlin")
        store.append_many(written)
    return written


def _probes_of(cols: StoreColumns, row: int) -> list[ProbeSample]:
    p = cols.probes
    names = [f.name for f in dataclasses.fields(ProbeSample)]
    rows = [k for k in range(p.length) if p[MEASUREMENT_INDEX][k] == row]
    return [ProbeSample(**{n: p[n][k] for n in names}) for k in rows]


def test_columns_hold_what_the_records_hold(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    _fill(path)
    with SqliteStore(path, readonly=True) as store:
        records = list(store.iter_measurements())
        cols = store.read_columns()
    m = cols.measurements
    assert m.length == len(records) == 5
    assert list(m["measurement_id"]) == [r.id for r in records]
    assert list(m["started_at"]) == [to_epoch_us(r.started_at) for r in records]
    assert list(m["status"]) == [str(r.status) for r in records]
    assert list(m["error"]) == [r.error for r in records]
    for row, record in enumerate(records):
        if record.kind == "rtt":
            expected = [
                dataclasses.replace(p, lost_direction=p.lost_direction and str(p.lost_direction))
                for p in record.result.probes  # type: ignore[union-attr]
            ]
            assert _probes_of(cols, row) == expected
    assert cols.probes.length == 13
    i = cols.intervals
    assert i.length == 20 and set(i[MEASUREMENT_INDEX]) == {1}
    names = [f.name for f in dataclasses.fields(ThroughputInterval)]
    got = [ThroughputInterval(**{n: i[n][k] for n in names}) for k in range(i.length)]
    key = lambda x: (x.stream, x.start_offset_s)  # noqa: E731 - columns come in key order
    assert got == sorted(records[1].result.intervals, key=key)  # type: ignore[union-attr]
    assert list(cols.agents["agent_id"]) == ["agent-1"]
    assert list(cols.agents["timezone"]) == ["Europe/Berlin"]


def test_column_types_and_missing_columns(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    _fill(path)
    with SqliteStore(path, readonly=True) as store:
        p = store.read_columns().probes
    # NULL-free numbers are flat arrays; a column with NULLs keeps None; an entirely NULL
    # column costs nothing and says so.
    assert isinstance(p["seq"], array) and p["seq"].typecode == "q"
    assert isinstance(p["send_offset_s"], array) and p["send_offset_s"].typecode == "d"
    assert isinstance(p[MEASUREMENT_INDEX], array)
    assert p.null_counts["rtt_s"] == 2 and None in p["rtt_s"]
    assert isinstance(p["forward_delay_s"], NullColumn) and p.all_null("forward_delay_s")
    assert len(p["forward_delay_s"]) == p.length and set(p["forward_delay_s"]) == {None}
    assert set(p.columns) == {MEASUREMENT_INDEX, *PROBES.names[1:]}


def test_filters_select_the_same_measurements_as_iter_measurements(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    _fill(path)
    cases = [
        {"collector": "icmp"},
        {"target": "127.0.0.2"},
        {"since": T0 + timedelta(minutes=1), "until": T0 + timedelta(minutes=4)},
        {"collector": "iperf3", "since": T0 + timedelta(minutes=1)},
        {"collector": "nope"},
    ]
    with SqliteStore(path, readonly=True) as store:
        for case in cases:
            records = list(store.iter_measurements(**case))
            cols = store.read_columns(**case)
            assert list(cols.measurements["measurement_id"]) == [r.id for r in records], case
            assert cols.probes.length == sum(
                len(r.result.probes) for r in records if r.kind == "rtt"
            ), case
            assert cols.intervals.length == sum(
                len(r.result.intervals) for r in records if r.kind == "throughput"
            ), case
            for row, record in enumerate(records):
                if record.kind == "rtt":
                    seqs = [p.seq for p in _probes_of(cols, row)]
                    assert seqs == [p.seq for p in record.result.probes], case


def test_one_snapshot_while_the_agent_commits(tmp_path: Path) -> None:
    """A measurement committed between the reader's SELECTs is not half-read."""
    path = tmp_path / "s.sqlite"
    _fill(path)
    with SqliteStore(path) as writer, SqliteStore(path, readonly=True) as reader:
        selects: list[str] = []

        def commit_after_first_select(sql: str) -> None:
            if sql.startswith("SELECT"):
                selects.append(sql)
                if len(selects) == 3:  # measurements are read; probes are next
                    writer.append(rtt(9, probes=6))

        reader._conn.set_trace_callback(commit_after_first_select)
        cols = reader.read_columns()
        reader._conn.set_trace_callback(None)
        assert len(selects) > 3 and writer.count() == 6  # the write did happen meanwhile
        assert cols.measurements.length == 5 and cols.probes.length == 13
        assert max(cols.probes[MEASUREMENT_INDEX]) < cols.measurements.length
        after = reader.read_columns()
        assert after.measurements.length == 6 and after.probes.length == 19


def test_empty_store_reads_empty_columns(tmp_path: Path) -> None:
    path = tmp_path / "empty.sqlite"
    SqliteStore(path).close()
    with SqliteStore(path, readonly=True) as store:
        cols = store.read_columns()
    for block, table in (
        (cols.measurements, MEASUREMENTS),
        (cols.probes, PROBES),
        (cols.intervals, INTERVALS),
        (cols.agents, AGENTS),
    ):
        assert block.length == 0
        assert set(table.names) - {"measurement_id"} <= set(block.columns)
        assert all(len(v) == 0 for v in block.columns.values())


def test_layout_matches_the_records_and_the_store_ddl(tmp_path: Path) -> None:
    assert PROBES.names[1:] == tuple(f.name for f in dataclasses.fields(ProbeSample))
    assert INTERVALS.names[1:] == tuple(f.name for f in dataclasses.fields(ThroughputInterval))
    with SqliteStore(tmp_path / "s.sqlite") as store:
        ddl = {
            table: [row[1] for row in store._conn.execute(f"PRAGMA table_info({table})")]
            for table in ("measurements", "probes", "intervals", "agents")
        }
    assert ddl["measurements"] == ["mid", *(c.store_name for c in MEASUREMENTS.columns)]
    assert ddl["probes"] == ["mid", *PROBES.field_names]
    assert ddl["intervals"] == ["mid", *INTERVALS.field_names]
    assert ddl["agents"][:2] == list(AGENTS.names)


@pytest.mark.parametrize("index", [0, -1, slice(1, 3)])
def test_null_column_behaves_as_a_sequence(index: int | slice) -> None:
    column = NullColumn(4)
    assert column[index] in (None, (None, None))
    with pytest.raises(IndexError):
        column[4]
