"""The agent on a real device: a full disk, a locked store, hanging collectors, clock steps.

The full-disk tests use a real 2 MB tmpfs filled by another file (a real ENOSPC), not
SQLite's ``max_page_count``.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from qos.config import JobConfig
from qos.records import Measurement, Status
from qos.serialization import loads
from qos_agent.collectors.base import Collector
from qos_agent.runtime import AgentRuntime
from qos_agent.spill import pending_spills
from tests.agent.field_helpers import (
    agent_config,
    fill,
    listening,
    small_tmpfs,
    tcp_job,
    tmpfs_skip_reason,
)

needs_tmpfs = pytest.mark.skipif(tmpfs_skip_reason() is not None, reason=str(tmpfs_skip_reason()))


@needs_tmpfs
@pytest.mark.parametrize("isolate", [False, True], ids=["in-process", "job-processes"])
def test_records_measured_while_the_disk_is_full_land_once_space_returns(
    tmp_path: Path, isolate: bool
) -> None:
    """Also with each job in its own process (as in the daemon): a job process that cannot
    store its record hands it back to the daemon's queue."""
    with small_tmpfs(tmp_path / "disk") as disk, listening() as port:
        runtime = AgentRuntime(agent_config(tmp_path, disk / "store.sqlite"), isolate=isolate)
        try:
            job = tcp_job(port)
            for _ in range(3):
                assert runtime.commit(runtime.run_job(job))
            filler = fill(disk)
            measured_while_full = []
            for _ in range(12):
                m = runtime.run_job(job)
                measured_while_full.append(m.id)
                runtime.commit(m)
            assert runtime.backlog > 0, "the full disk never refused a write"
            filler.unlink()
            # the next scheduled job: its commit drains the whole queue first
            next_record = runtime.run_job(job)
            assert runtime.commit(next_record)
            assert runtime.backlog == 0
            stored = runtime.store.ids()
            assert set(measured_while_full) | {next_record.id} <= stored
            assert runtime.store.integrity_check() == "ok"
        finally:
            runtime.close()


@needs_tmpfs
@pytest.mark.parametrize("isolate", [False, True], ids=["in-process", "job-processes"])
def test_queue_drains_while_idle_once_space_returns(tmp_path: Path, isolate: bool) -> None:
    """No new record needed: the idle wait retries with backoff within one interval."""
    with small_tmpfs(tmp_path / "disk") as disk, listening() as port:
        runtime = AgentRuntime(agent_config(tmp_path, disk / "store.sqlite"), isolate=isolate)
        try:
            job = tcp_job(port)
            runtime.commit(runtime.run_job(job))
            filler = fill(disk)
            queued = runtime.run_job(job)
            assert not runtime.commit(queued)
            filler.unlink()
            stop = threading.Event()
            started = time.monotonic()
            runtime.waiter(stop)(3.0)  # one 3 s scheduling interval of idling
            assert runtime.backlog == 0
            assert queued.id in runtime.store.ids()
            assert time.monotonic() - started < 3.5
        finally:
            runtime.close()


@needs_tmpfs
def test_stop_while_full_spills_and_the_next_start_imports_exactly_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spill_dir = tmp_path / "spill"  # another file system than the full one
    with small_tmpfs(tmp_path / "disk") as disk, listening() as port:
        config = agent_config(tmp_path, disk / "store.sqlite", spill_dir=str(spill_dir))
        runtime = AgentRuntime(config)
        job = tcp_job(port)
        runtime.commit(runtime.run_job(job))
        before = runtime.store.count()
        filler = fill(disk)
        queued = []
        for _ in range(5):
            m = runtime.run_job(job)
            if not runtime.commit(m):
                queued.append(m.id)
        assert queued
        runtime.close()  # SIGTERM path: what is queued goes to the spill file
        spills = pending_spills(spill_dir)
        assert len(spills) == 1
        spilled = [loads(line).id for line in spills[0].read_text().splitlines()]
        assert set(queued) <= set(spilled)
        filler.unlink()
        for _ in range(2):  # the second start finds nothing left to import
            runtime = AgentRuntime(config)
            ids = runtime.store.ids()
            count = runtime.store.count()
            runtime.close()
            assert set(spilled) <= ids
            assert count == before + len(set(spilled))
            assert pending_spills(spill_dir) == []


def test_a_queue_beyond_its_bound_spills_instead_of_growing(tmp_path: Path) -> None:
    config = agent_config(
        tmp_path, tmp_path / "s.sqlite", spill_dir=str(tmp_path / "spill"), backlog_limit=3
    )
    runtime = AgentRuntime(config)
    conn = runtime.store._conn
    with listening() as port:
        job = tcp_job(port, count=20)
        runtime.commit(runtime.run_job(job))
        conn.execute(f"PRAGMA max_page_count = {conn.execute('PRAGMA page_count').fetchone()[0]}")
        ids = []
        while len(ids) < 8:
            m = runtime.run_job(job)
            ids.append(m.id)
            runtime.commit(m)
        assert runtime.backlog <= 3
        assert pending_spills(tmp_path / "spill")
        conn.execute("PRAGMA max_page_count = 1073741823")
        assert runtime.commit(runtime.run_job(job))
    assert set(ids) <= runtime.store.ids()  # spilled ones imported as soon as the store works
    assert pending_spills(tmp_path / "spill") == []
    runtime.close()


def test_when_even_the_spill_fails_the_log_names_every_lost_record(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the spill directory should be")
    config = agent_config(tmp_path, tmp_path / "s.sqlite", spill_dir=str(blocker / "spill"))
    runtime = AgentRuntime(config)
    conn = runtime.store._conn
    with listening() as port:
        job = tcp_job(port, count=20)
        runtime.commit(runtime.run_job(job))
        conn.execute(f"PRAGMA max_page_count = {conn.execute('PRAGMA page_count').fetchone()[0]}")
        lost = []
        while len(lost) < 3:
            m = runtime.run_job(job)
            if not runtime.commit(m):
                lost.append(m.id)
    with caplog.at_level(logging.CRITICAL, logger="qos_agent.runtime"):
        runtime.close()
    message = "\n".join(r.getMessage() for r in caplog.records if r.levelno == logging.CRITICAL)
    assert f"LOST {len(lost)} measurements" in message
    for mid in lost:
        assert mid in message


def test_a_locked_store_is_retried_with_backoff(tmp_path: Path) -> None:
    store = tmp_path / "s.sqlite"
    runtime = AgentRuntime(agent_config(tmp_path, store))
    other = sqlite3.connect(store, isolation_level=None, check_same_thread=False)
    with listening() as port:
        job = tcp_job(port, count=5)
        other.execute("BEGIN IMMEDIATE")  # e.g. an analyst's long transaction
        m = runtime.run_job(job)
        assert not runtime.commit(m)
        assert runtime.backlog == 1
        released = threading.Timer(1.0, lambda: other.execute("COMMIT"))
        released.start()
        started = time.monotonic()
        runtime.waiter(threading.Event())(8.0)
        released.join()
    assert runtime.backlog == 0 and m.id in runtime.store.ids()
    assert time.monotonic() - started < 8.5
    other.close()
    runtime.close()


class _Hangs(Collector):
    name = "tcp_connect"

    def measure(self, target, params, context):  # ignores the stop event on purpose
        time.sleep(30)
        raise AssertionError("never reached")


class _Raises(Collector):
    name = "tcp_connect"

    def measure(self, target, params, context):
        raise RuntimeError("driver exploded")


def test_a_hanging_collector_is_cut_off_at_its_deadline(tmp_path: Path, monkeypatch) -> None:
    runtime = AgentRuntime(agent_config(tmp_path, tmp_path / "s.sqlite"))
    monkeypatch.setattr("qos_agent.runtime.collectors.get", lambda name: _Hangs())
    job = JobConfig(name="tcp", collector="tcp_connect", target="127.0.0.1:1", deadline_s=0.5)
    started = time.monotonic()
    m = runtime.run_job(job)
    elapsed = time.monotonic() - started
    assert m.status == Status.ERROR and "deadline of 0.5 s" in (m.error or "")
    assert 0.5 <= elapsed < 0.5 + 1.0 + 1.0  # deadline + grace + slack for a busy machine
    assert runtime.commit(m)
    events = runtime.store.events("deadline")
    assert len(events) == 1 and events[0][2]["job"] == "tcp" and events[0][2]["abandoned"]
    runtime.close()


def test_a_raising_collector_is_an_error_record(tmp_path: Path, monkeypatch) -> None:
    runtime = AgentRuntime(agent_config(tmp_path, tmp_path / "s.sqlite"))
    monkeypatch.setattr("qos_agent.runtime.collectors.get", lambda name: _Raises())
    m = runtime.run_job(JobConfig(name="tcp", collector="tcp_connect", target="127.0.0.1:1"))
    assert m.status == Status.ERROR and "driver exploded" in (m.error or "")
    runtime.close()


def test_a_wall_clock_step_is_an_event_and_leaves_the_schedule_alone(tmp_path: Path) -> None:
    from qos_agent.scheduler import Scheduler

    runtime = AgentRuntime(agent_config(tmp_path, tmp_path / "s.sqlite"))
    mono = {"now": 100.0}
    step = {"s": 0.0}
    due: list[float] = []

    def wall():
        from datetime import UTC, datetime

        return datetime.fromtimestamp(1.8e9 + mono["now"] + step["s"], UTC)

    def run_job(job) -> Measurement:
        due.append(mono["now"])
        if len(due) == 2:
            step["s"] = -3600.0  # NTP steps the clock back an hour
        return runtime.skipped(job, "test")

    def wait(seconds: float) -> bool:
        mono["now"] += seconds
        return False

    scheduler = Scheduler(
        [tcp_job(1, interval_s=60.0)],
        run_job,
        runtime.commit,
        skipped=runtime.skipped,
        monotonic=lambda: mono["now"],
        wall=wall,
        wait=wait,
        on_clock_step=runtime.clock_stepped,
    )
    scheduler.run(threading.Event(), max_runs=4)
    assert [round(t - due[0]) for t in due] == [0, 60, 120, 180]
    events = runtime.store.events("clock_step")
    assert len(events) == 1 and events[0][2]["step_s"] == pytest.approx(-3600.0)
    runtime.close()


def test_a_long_reader_does_not_hold_up_the_writer(tmp_path: Path) -> None:
    """WAL: an analyst's open read transaction never blocks the agent's commits."""
    store = tmp_path / "s.sqlite"
    runtime = AgentRuntime(agent_config(tmp_path, store))
    reader = sqlite3.connect(store, isolation_level=None)
    reader.execute("BEGIN")
    assert reader.execute("SELECT COUNT(*) FROM measurements").fetchone()[0] == 0
    with listening() as port:
        records = [runtime.run_job(tcp_job(port, count=5)) for _ in range(3)]
        assert all(runtime.commit(m) for m in records)
    assert reader.execute("SELECT COUNT(*) FROM measurements").fetchone()[0] == 0  # snapshot
    reader.execute("COMMIT")
    assert reader.execute("SELECT COUNT(*) FROM measurements").fetchone()[0] == 3
    reader.close()
    runtime.close()


@needs_tmpfs
def test_the_agent_starts_and_measures_on_a_full_disk(tmp_path: Path) -> None:
    with small_tmpfs(tmp_path / "disk") as disk, listening() as port:
        config = agent_config(tmp_path, disk / "store.sqlite")
        AgentRuntime(config).close()  # the store exists; then the disk fills up
        filler = fill(disk)
        doc_exporter = tmp_path / "lines.jsonl"
        from dataclasses import replace

        from qos.config import ExporterConfig

        config = replace(
            config,
            exporters=(ExporterConfig("lines", "jsonl", {"path": str(doc_exporter)}),),
        )
        runtime = AgentRuntime(config)  # registering the agent and the cursor both fail
        try:
            m = runtime.run_job(tcp_job(port))
            assert not runtime.commit(m)
            filler.unlink()
            assert runtime.commit(runtime.run_job(tcp_job(port)))
            assert m.id in runtime.store.ids()
            exported = [loads(line).id for line in doc_exporter.read_text().splitlines()]
            assert exported[0] == m.id and len(exported) == 2
        finally:
            runtime.close()
