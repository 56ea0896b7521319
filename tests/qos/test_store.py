"""qos.store.SqliteStore: the embedded default store (docs/architecture.md §2.3).

What is written reads back equal (every result kind, lost probes, intervals); WAL mode and
``user_version`` are set; newer or foreign files are refused without being changed; analysts
read while the agent writes; a full disk is a clear StoreError that loses nothing committed.
"""

from __future__ import annotations

import dataclasses
import math
import sqlite3
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qos.errors import QosError, SchemaVersionError, StoreError
from qos.records import (
    LossDirection,
    Measurement,
    ProbeSample,
    RttResult,
    ThroughputInterval,
    ThroughputResult,
    TimingResult,
)
from qos.store import STORE_SCHEMA_VERSION, SqliteStore, Store
from qos.store.sqlite import INTERVAL_COLUMNS, PROBE_COLUMNS, from_epoch_us, to_epoch_us
from tests.factories import measurement, rtt_result, throughput_result, unanswered_dns
from tests.qos import strategies

T0 = datetime(2026, 2, 1, 0, 0, tzinfo=UTC)


def rtt(
    i: int = 0,
    *,
    probes: int = 50,
    collector: str = "icmp",
    target: str = "127.0.0.1",
    started_at: datetime | None = None,
) -> Measurement:
    return measurement(
        collector=collector,
        target=target,
        started_at=started_at or T0 + timedelta(minutes=i),
        result=rtt_result(
            ProbeSample(
                seq=k,
                send_offset_s=k * 0.02,
                rtt_s=None if k % 7 == 3 else 0.001 + k * 1e-6,
                ttl=None if k % 7 == 3 else 64,
                lost_direction=LossDirection.UNKNOWN if k % 7 == 3 else None,
            )
            for k in range(probes)
        ),
        params={"count": probes},
        labels={"i": str(i)},
    )


def throughput(i: int = 0) -> Measurement:
    return measurement(
        collector="iperf3",
        target="127.0.0.1:5201",
        started_at=T0 + timedelta(minutes=i),
        duration_s=12.0,
        result=throughput_result(
            3_000_000,
            2.4e6,
            direction="upload",
            streams=2,
            warmup_s=2.0,
            intervals=(
                ThroughputInterval(s, float(t), 1.0, 150_000, warmup=t < 2)
                for t in range(10)
                for s in (0, 1)
            ),
            details={"server": "iperf3 3.12"},
        ),
    )


def timing(i: int = 0) -> Measurement:
    return unanswered_dns(started_at=T0 + timedelta(minutes=i))


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    s = SqliteStore(tmp_path / "m.sqlite")
    yield s  # type: ignore[misc]
    s.close()


# -- round trips -------------------------------------------------------------------------------


@given(st.lists(strategies.measurements, min_size=1, max_size=4))
@settings(max_examples=60, deadline=None)
def test_round_trip_is_exact_for_every_kind(ms: list[Measurement]) -> None:
    with tempfile.TemporaryDirectory() as tmp, SqliteStore(Path(tmp) / "m.sqlite") as s:
        for m in ms:
            s.append(m)
        for m in ms:
            assert s.get(m.id) == m
        assert sorted(s.iter_measurements(), key=lambda m: m.id) == sorted(ms, key=lambda m: m.id)
        assert s.count() == len(ms)


def test_known_records_round_trip(store: SqliteStore) -> None:
    records = [
        rtt(0),
        throughput(1),
        timing(2),
        Measurement("a", "icmp", "::1", T0, 0.0, "skipped"),
    ]
    for m in records:
        store.append(m)
    assert list(store.iter_measurements()) == sorted(records, key=lambda m: m.started_at)
    back = store.get(records[0].id)
    assert isinstance(back.result, RttResult)
    assert back.result.sent == 50 and back.result.received == 43
    assert back.result.probes[3].rtt_s is None  # lost stays None, not 0
    assert back.result.probes[3].lost_direction is LossDirection.UNKNOWN
    tput = store.get(records[1].id).result
    assert isinstance(tput, ThroughputResult)
    assert len(tput.intervals) == 20
    assert tput.intervals[0].warmup is True and tput.intervals[-1].warmup is False


def test_probes_and_intervals_live_in_their_own_tables(store: SqliteStore) -> None:
    m = rtt(probes=50)
    store.append(m)
    store.append(throughput(1))
    conn = store._conn
    assert conn.execute("SELECT COUNT(*) FROM probes").fetchone()[0] == 50
    assert conn.execute("SELECT COUNT(*) FROM probes WHERE rtt_s IS NULL").fetchone()[0] == 7
    assert conn.execute("SELECT COUNT(*) FROM intervals").fetchone()[0] == 20
    header = conn.execute("SELECT result_json FROM measurements WHERE id = ?", (m.id,)).fetchone()
    assert '"probes"' not in header[0]  # not a JSON blob of samples


def test_store_satisfies_the_store_protocol(store: SqliteStore) -> None:
    s: Store = store
    s.append(rtt())
    assert len(list(s.iter_measurements())) == 1


def test_epoch_microsecond_conversion() -> None:
    moment = datetime(2026, 2, 1, 12, 30, 15, 123456, tzinfo=UTC)
    assert from_epoch_us(to_epoch_us(moment)) == moment
    assert to_epoch_us(datetime(1970, 1, 1, tzinfo=UTC)) == 0
    before = datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    assert to_epoch_us(before) == -1
    assert from_epoch_us(-1) == before


# -- file format -------------------------------------------------------------------------------


def test_wal_mode_and_user_version(tmp_path: Path) -> None:
    path = tmp_path / "m.sqlite"
    SqliteStore(path).close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # persistent
        assert conn.execute("PRAGMA user_version").fetchone()[0] == STORE_SCHEMA_VERSION
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"measurements", "probes", "intervals", "agents"} <= tables
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
        assert {
            "measurements_time",
            "measurements_target_time",
            "measurements_collector_time",
        } <= indexes
    finally:
        conn.close()
    with SqliteStore(path) as s:
        assert s.schema_version == STORE_SCHEMA_VERSION
        assert s._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert s.integrity_check() == "ok"


def test_reopening_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "m.sqlite"
    m = rtt()
    with SqliteStore(path) as s:
        s.append(m)
    with SqliteStore(path) as s:
        assert s.get(m.id) == m
    with SqliteStore(path, readonly=True) as s:
        assert s.get(m.id) == m


def test_newer_user_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.sqlite"
    with SqliteStore(path) as s:
        s.append(rtt())
        s._conn.execute("PRAGMA user_version = 99")
    for readonly in (False, True):
        with pytest.raises(SchemaVersionError) as info:
            SqliteStore(path, readonly=readonly)
        message = str(info.value)
        assert str(path) in message
        assert "schema version 99" in message
        assert f"supports ({STORE_SCHEMA_VERSION})" in message
        assert "upgrade qos-toolkit" in message
    assert issubclass(SchemaVersionError, StoreError)


def test_foreign_sqlite_file_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE recipes (name TEXT)")
    conn.execute("INSERT INTO recipes VALUES ('bread')")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    for readonly in (False, True):
        with pytest.raises(StoreError, match="not a qos-toolkit store"):
            SqliteStore(path, readonly=readonly)
    assert path.read_bytes() == before  # not switched to WAL, no tables added
    assert not Path(f"{path}-wal").exists()


def test_file_that_is_not_sqlite_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(b"these are not the measurements you are looking for\n" * 100)
    with pytest.raises(StoreError, match="cannot open store"):
        SqliteStore(path)


def test_missing_store(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no such store"):
        SqliteStore(tmp_path / "none.sqlite", readonly=True)
    with pytest.raises(StoreError, match="no such store"):
        SqliteStore(tmp_path / "none.sqlite", create=False)
    assert not (tmp_path / "none.sqlite").exists()


def test_empty_file_opened_read_only_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.sqlite"
    path.touch()
    with pytest.raises(StoreError, match="not a qos-toolkit store"):
        SqliteStore(path, readonly=True)


def test_store_creates_parent_directories(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "m.sqlite"
    with SqliteStore(path) as s:
        s.append(rtt())
    assert path.exists()


def test_read_only_open_of_a_path_with_uri_characters(tmp_path: Path) -> None:
    # '#' and '?' end a file name in an SQLite URI; unquoted, mode=ro was silently dropped.
    folder = tmp_path / "run #1?x=%20"
    path = folder / "m.sqlite"
    m = rtt()
    with SqliteStore(path) as s:
        s.append(m)
    with SqliteStore(path, readonly=True) as ro:
        assert ro.get(m.id) == m
        with pytest.raises(StoreError, match="read-only"):
            ro.append(rtt(1))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run #1?x=%20"]


# -- writing rules -----------------------------------------------------------------------------


def test_duplicate_id_is_rejected_and_the_first_kept(store: SqliteStore) -> None:
    m = rtt()
    store.append(m)
    clash = Measurement("other", "tcp_connect", "127.0.0.1:1", T0, 0.0, "error", id=m.id)
    with pytest.raises(StoreError, match="measurement rejected"):
        store.append(clash)
    assert store.count() == 1
    assert store.get(m.id) == m


def test_append_many_is_one_transaction(store: SqliteStore) -> None:
    first = rtt(0)
    store.append(first)
    batch = [rtt(1), rtt(2), Measurement("a", "c", "t", T0, 0.0, "ok", id=first.id)]
    with pytest.raises(StoreError):
        store.append_many(batch)
    assert store.ids() == {first.id}  # neither rtt(1) nor rtt(2) was committed
    assert store.append_many([rtt(3), rtt(4)]) == 2
    assert store.count() == 3
    assert store._conn.execute("SELECT COUNT(*) FROM probes").fetchone()[0] == 150


def test_a_record_that_cannot_be_stored_leaves_no_trace(store: SqliteStore) -> None:
    bad = Measurement(
        "a", "c", "t", T0, 0.0, "ok", result=TimingResult({}, details={"x": float("nan")})
    )
    with pytest.raises(ValueError):
        store.append(bad)
    assert store.count() == 0
    store.append(rtt())  # the connection is not left inside a transaction
    assert store.count() == 1


@pytest.mark.parametrize("field", ["rtt_s", "forward_delay_s", "reflector_residence_s"])
def test_nan_probe_value_is_refused_not_stored_as_lost(store: SqliteStore, field: str) -> None:
    # SQLite would bind NaN as NULL, i.e. turn a broken value into a lost probe (more loss).
    probe = dataclasses.replace(ProbeSample(0, 0.0, 0.001), **{field: math.nan})
    bad = Measurement("a", "icmp", "t", T0, 0.0, "ok", result=RttResult(probes=(probe,)))
    with pytest.raises(StoreError, match="NaN"):
        store.append(bad)
    assert store.count() == 0
    assert store._conn.execute("SELECT COUNT(*) FROM probes").fetchone()[0] == 0


def test_get_unknown_id(store: SqliteStore) -> None:
    with pytest.raises(StoreError, match="no measurement with id nope"):
        store.get("nope")


def test_read_only_store_refuses_writes(tmp_path: Path) -> None:
    path = tmp_path / "m.sqlite"
    SqliteStore(path).close()
    with SqliteStore(path, readonly=True) as ro:
        for write in (
            lambda: ro.append(rtt()),
            lambda: ro.prune(T0),
            lambda: ro.register_agent("a", timezone="UTC"),
        ):
            with pytest.raises(StoreError, match="read-only"):
                write()


def test_register_agent(store: SqliteStore) -> None:
    store.register_agent("agent-1", timezone="Europe/Berlin", labels={"isp": "x"})
    store.register_agent("agent-1", timezone="Europe/Paris")
    store.register_agent("agent-2", timezone=None)
    assert store.agents() == {"agent-1": "Europe/Paris", "agent-2": None}


# -- reading -----------------------------------------------------------------------------------


def test_iter_measurements_filters_and_orders(store: SqliteStore) -> None:
    records = [
        rtt(2, collector="icmp", target="127.0.0.1"),
        rtt(0, collector="icmp", target="::1"),
        rtt(1, collector="tcp_connect", target="127.0.0.1:22"),
        rtt(3, collector="tcp_connect", target="127.0.0.1"),
    ]
    for m in records:
        store.append(m)
    ordered = sorted(records, key=lambda m: m.started_at)
    assert list(store.iter_measurements()) == ordered
    assert [m.labels["i"] for m in store.iter_measurements(collector="icmp")] == ["0", "2"]
    assert [m.labels["i"] for m in store.iter_measurements(target="127.0.0.1")] == ["2", "3"]
    # since is inclusive, until exclusive
    window = store.iter_measurements(
        since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=3)
    )
    assert [m.labels["i"] for m in window] == ["1", "2"]
    both = store.iter_measurements(collector="tcp_connect", target="127.0.0.1")
    assert [m.labels["i"] for m in both] == ["3"]
    assert list(store.iter_measurements(collector="nope")) == []


def test_export_rows_layouts(store: SqliteStore) -> None:
    a, b, c = rtt(0, probes=5), throughput(1), timing(2)
    for m in (a, b, c):
        store.append(m)
    store.register_agent("agent-1", timezone="UTC")

    columns, rows = store.export_rows("measurements")
    assert columns[0] == "measurement_id"
    assert columns == [
        "measurement_id",
        "agent_id",
        "collector",
        "target",
        "started_at_us",
        "duration_s",
        "status",
        "error",
        "kind",
        "schema_version",
        "params_json",
        "labels_json",
        "result_json",
    ]
    table = [dict(zip(columns, r, strict=True)) for r in rows]
    assert [r["measurement_id"] for r in table] == [a.id, b.id, c.id]
    assert [r["kind"] for r in table] == ["rtt", "throughput", "timing"]
    assert table[0]["started_at_us"] == to_epoch_us(a.started_at)

    columns, rows = store.export_rows("probes")
    assert columns == ["measurement_id", *PROBE_COLUMNS]
    probe_rows = list(rows)
    assert len(probe_rows) == 5
    assert {r[0] for r in probe_rows} == {a.id}
    assert [r[1] for r in probe_rows] == [0, 1, 2, 3, 4]
    assert probe_rows[3][columns.index("rtt_s")] is None

    columns, rows = store.export_rows("intervals")
    assert columns == ["measurement_id", *INTERVAL_COLUMNS]
    assert len(list(rows)) == 20

    columns, rows = store.export_rows("agents")
    assert columns == ["agent_id", "timezone"]
    assert list(rows) == [("agent-1", "UTC")]

    _, rows = store.export_rows("probes", since=T0 + timedelta(minutes=1))
    assert list(rows) == []
    _, rows = store.export_rows("measurements", until=T0 + timedelta(minutes=1))
    assert [r[0] for r in rows] == [a.id]
    with pytest.raises(StoreError, match="unknown table 'secrets'"):
        store.export_rows("secrets")


def test_prune_removes_old_measurements_with_their_samples(store: SqliteStore) -> None:
    for i in range(5):
        store.append(rtt(i, probes=10))
    store.append(throughput(5))
    removed = store.prune(T0 + timedelta(minutes=3))
    assert removed == 3
    assert sorted(m.labels.get("i") for m in store.iter_measurements() if m.kind == "rtt") == [
        "3",
        "4",
    ]
    conn = store._conn
    assert conn.execute("SELECT COUNT(*) FROM probes").fetchone()[0] == 20  # cascaded
    assert store.prune(T0) == 0
    assert store.prune(T0 + timedelta(days=1)) == 3
    assert conn.execute("SELECT COUNT(*) FROM intervals").fetchone()[0] == 0
    assert store.integrity_check() == "ok"


# -- readers while the agent writes ------------------------------------------------------------


def test_reader_is_not_blocked_by_an_open_write_transaction(tmp_path: Path) -> None:
    path = tmp_path / "m.sqlite"
    writer = SqliteStore(path)
    committed = rtt(0)
    writer.append(committed)
    reader = SqliteStore(path, readonly=True, timeout_s=0.5)
    try:
        pending = rtt(1)
        writer._conn.execute("BEGIN IMMEDIATE")  # the agent is half-way through a record
        writer._insert(pending)
        assert reader.ids() == {committed.id}  # WAL: no waiting, only committed data
        assert reader.get(committed.id) == committed
        writer._conn.execute("COMMIT")
        assert reader.ids() == {committed.id, pending.id}
        assert reader.get(pending.id) == pending
    finally:
        reader.close()
        writer.close()


def test_reader_sees_committed_rows_while_a_writer_keeps_writing(tmp_path: Path) -> None:
    path = tmp_path / "m.sqlite"
    SqliteStore(path).close()
    total = 120
    written: list[str] = []
    failures: list[BaseException] = []

    def write() -> None:
        try:
            with SqliteStore(path) as w:
                for i in range(total):
                    m = rtt(i, probes=20 + i % 30)
                    w.append(m)
                    written.append(m.id)
                    time.sleep(0.002)  # an agent writes at a cadence, not in one burst
        except BaseException as exc:  # surfaced below
            failures.append(exc)

    thread = threading.Thread(target=write)
    with SqliteStore(path, readonly=True) as reader:
        thread.start()
        seen_counts = []
        while True:
            writer_done = not thread.is_alive()  # checked before reading: last read sees all
            committed_before = set(written)  # append returned for these before the read
            ids = reader.ids()
            assert committed_before <= ids
            seen_counts.append(len(ids))
            for m in reader.iter_measurements(since=T0 + timedelta(minutes=len(ids) - 3)):
                assert isinstance(m.result, RttResult)
                assert m.result.sent == m.params["count"]  # never a half-written record
            if writer_done:
                break
        thread.join()
    assert not failures, failures
    assert seen_counts == sorted(seen_counts)
    assert seen_counts[-1] == total
    assert len(set(seen_counts)) > 2, "the reader should have observed the store growing"


# -- full disk -----------------------------------------------------------------------------------


def test_full_disk_is_a_clear_error_and_loses_nothing_committed(tmp_path: Path) -> None:
    path = tmp_path / "m.sqlite"
    store = SqliteStore(path)
    kept = [rtt(i) for i in range(3)]
    for m in kept:
        store.append(m)
    # Simulate "database or disk is full": cap the file at its current size (this connection).
    pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
    store._conn.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(StoreError) as info:
        store.append(rtt(10, probes=20_000))
    message = str(info.value)
    # the real cause, not the follow-up "cannot rollback - no transaction is active"
    assert "database or disk is full" in message, message
    assert str(path) in message
    assert not store._conn.in_transaction
    assert store.ids() == {m.id for m in kept}
    store._conn.execute("PRAGMA max_page_count = 1073741823")  # space freed again
    late = rtt(11)
    store.append(late)
    store.close()
    with SqliteStore(path, readonly=True) as ro:
        assert ro.integrity_check() == "ok"
        assert ro.ids() == {m.id for m in kept} | {late.id}
        for m in kept:
            assert ro.get(m.id) == m


def test_store_error_is_part_of_the_error_tree() -> None:
    assert issubclass(StoreError, QosError)
