"""The runtime never loses a record: full disk → backlog → flushed later; exporters isolated."""

from __future__ import annotations

import socket
from pathlib import Path

from qos.config import JobConfig, parse_config
from qos.serialization import loads
from qos_agent.runtime import AgentRuntime


def _runtime(tmp_path: Path, exporters: str = "") -> AgentRuntime:
    doc = {
        "agent": {"id": "test-agent", "timezone": "Europe/Berlin"},
        "store": {"path": str(tmp_path / "s.sqlite")},
    }
    if exporters:
        doc["exporters"] = [{"name": "lines", "type": "jsonl", "path": exporters}]
    return AgentRuntime(parse_config(doc, file="test"))


def _job(port: int) -> JobConfig:
    return JobConfig(
        name="tcp",
        collector="tcp_connect",
        target=f"127.0.0.1:{port}",
        params={"count": 2, "interval": "5ms"},
    )


def test_full_disk_keeps_records_in_backlog_until_space_returns(tmp_path: Path) -> None:
    lines = tmp_path / "exported.jsonl"
    runtime = _runtime(tmp_path, exporters=str(lines))
    conn = runtime.store._conn
    with socket.create_server(("127.0.0.1", 0)) as server:
        job = _job(server.getsockname()[1])
        assert runtime.commit(runtime.run_job(job))
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages}")  # the "disk" is now full
        queued = []
        for _ in range(200):  # fill the free space of existing pages until a write fails
            m = runtime.run_job(job)
            queued.append(m.id)
            if not runtime.commit(m):
                break
        assert runtime.backlog == 1, "the store never reported the full disk"
        failed_id = queued[-1]
        assert failed_id not in runtime.store.ids()
        conn.execute("PRAGMA max_page_count = 1073741823")  # space is back
        assert runtime.commit(runtime.run_job(job))
    assert runtime.backlog == 0
    stored = runtime.store.ids()
    assert set(queued) <= stored and len(stored) == len(queued) + 2
    # a record is exported once, when it is finally stored — backlogged ones included
    exported = [loads(line).id for line in lines.read_text().splitlines()]
    assert sorted(exported) == sorted(stored)
    assert runtime.store.integrity_check() == "ok"
    runtime.close()


def test_a_failing_exporter_does_not_stop_the_store(tmp_path: Path) -> None:
    lines = tmp_path / "out" / "records.jsonl"
    runtime = _runtime(tmp_path, exporters=str(lines))
    with socket.create_server(("127.0.0.1", 0)) as server:
        job = _job(server.getsockname()[1])
        runtime.commit(runtime.run_job(job))
        runtime.exporters[0]._fh.close()  # the exporter's file breaks
        m = runtime.run_job(job)
        assert runtime.commit(m)
    assert m.id in runtime.store.ids()
    first = loads(lines.read_text().splitlines()[0])
    assert first.agent_id == "test-agent"
    assert runtime.store.agents() == {"test-agent": "Europe/Berlin"}
    runtime.close()
