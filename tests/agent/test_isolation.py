"""Jobs in a child process: the record comes back whole; a child that crashes, hangs or
answers garbage is a recorded failure, never a lost run; the daemon does not keep what the
child imported."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from qos.config import JobConfig
from qos.records import ProbeSample, RttResult, Status
from qos_agent.collectors.base import Collector
from qos_agent.isolation import fork_available, run_in_child
from qos_agent.runtime import AgentRuntime
from tests.agent.conftest import PYTHONPATH
from tests.agent.field_helpers import agent_config

pytestmark = pytest.mark.skipif(not fork_available(), reason="needs os.fork (POSIX)")


def test_the_child_answer_comes_back() -> None:
    result = run_in_child(lambda: b"x" * 300_000, timeout_s=10)  # more than a pipe buffer
    assert result.output == b"x" * 300_000 and result.problem is None


def test_a_child_that_raises_or_is_killed_is_reported() -> None:
    def raises() -> bytes:
        raise RuntimeError("boom")

    def killed() -> bytes:
        os.kill(os.getpid(), signal.SIGKILL)
        return b"never"

    assert run_in_child(raises, timeout_s=10).problem == "exited with status 1"
    result = run_in_child(killed, timeout_s=10)
    assert result.output is None and result.problem == "killed by signal 9 (SIGKILL)"


def test_a_hanging_child_is_killed_at_its_time_limit() -> None:
    started = time.monotonic()
    result = run_in_child(lambda: time.sleep(30) or b"", timeout_s=0.5)
    assert result.timed_out and result.output is None
    assert time.monotonic() - started < 5


def test_an_interrupt_reaches_the_child() -> None:
    interrupt = threading.Event()
    stopped = threading.Event()

    def work() -> bytes:
        stopped.wait(20)  # the child's copy of the event, set by its SIGTERM handler
        return b"stopped early" if stopped.is_set() else b"ran to the end"

    threading.Timer(0.3, interrupt.set).start()
    result = run_in_child(work, timeout_s=20, interrupt=interrupt, on_interrupt=stopped.set)
    assert result.output == b"stopped early"


class _Probes(Collector):
    name = "tcp_connect"

    def measure(self, target, params, context):
        probes = tuple(ProbeSample(seq=i, send_offset_s=i / 1e3, rtt_s=i / 1e6) for i in range(500))
        result = RttResult(probes=probes, details={"pid": os.getpid()})
        return self.begin(target, params, context).finish(status=Status.OK, result=result)


class _Dies(Collector):
    name = "tcp_connect"

    def measure(self, target, params, context):
        os.kill(os.getpid(), signal.SIGKILL)


class _Hangs(Collector):
    name = "tcp_connect"

    def measure(self, target, params, context):  # ignores its stop event on purpose
        time.sleep(60)


def _isolated(tmp_path: Path, monkeypatch, collector: type[Collector]) -> AgentRuntime:
    monkeypatch.setattr("qos_agent.runtime.collectors.get", lambda name: collector())
    return AgentRuntime(agent_config(tmp_path, tmp_path / "s.sqlite"), isolate=True)


def test_an_isolated_job_stores_its_record_from_the_child(tmp_path: Path, monkeypatch) -> None:
    """The child stores the record over its own connection; the daemon gets the envelope
    and stores nothing twice."""
    runtime = _isolated(tmp_path, monkeypatch, _Probes)
    m = runtime.run_job(JobConfig(name="tcp", collector="tcp_connect", target="127.0.0.1:1"))
    assert m.status == Status.OK and m.result is None  # the probes stayed in the child
    assert runtime.store.count() == 1  # stored before the daemon commits it
    assert runtime.commit(m) and runtime.store.count() == 1
    stored = runtime.store.get(m.id)
    assert stored.result is not None and stored.result.details["pid"] != os.getpid()
    assert [p.rtt_s for p in stored.result.probes] == [i / 1e6 for i in range(500)]
    runtime.close()


def test_the_whole_record_comes_back_when_the_child_cannot_store_it(
    tmp_path: Path, monkeypatch
) -> None:
    """A record queued before it keeps the order: the child hands its record back whole
    and the daemon stores the queue first."""
    runtime = _isolated(tmp_path, monkeypatch, _Probes)
    job = JobConfig(name="tcp", collector="tcp_connect", target="127.0.0.1:1")
    queued = runtime.skipped(job, "queued while the store refused writes")
    runtime._backlog.append(queued)  # the state a refused write leaves
    m = runtime.run_job(job)
    assert m.result is not None and len(m.result.probes) == 500
    assert m.result.details["pid"] != os.getpid()
    assert runtime.store.count() == 0
    assert runtime.commit(m)
    assert [mid for mid, _ in runtime.store.after(0)] == [1, 2]
    assert [r.id for _, r in runtime.store.after(0)] == [queued.id, m.id]
    runtime.close()


def test_a_job_whose_process_dies_is_a_stored_error_record(tmp_path: Path, monkeypatch) -> None:
    runtime = _isolated(tmp_path, monkeypatch, _Dies)
    m = runtime.run_job(JobConfig(name="tcp", collector="tcp_connect", target="127.0.0.1:1"))
    assert m.status == Status.ERROR
    assert m.error == "job process killed by signal 9 (SIGKILL)"
    assert runtime.commit(m) and m.id in runtime.store.ids()
    runtime.close()


def test_a_job_whose_process_hangs_is_killed_and_recorded(tmp_path: Path, monkeypatch) -> None:
    runtime = _isolated(tmp_path, monkeypatch, _Hangs)
    job = JobConfig(name="tcp", collector="tcp_connect", target="127.0.0.1:1", deadline_s=0.5)
    started = time.monotonic()
    m = runtime.run_job(job)
    # the child cuts its collector off at the deadline (+ grace), as the daemon always did
    assert time.monotonic() - started < 0.5 + 1.0 + 3.0
    assert m.status == Status.ERROR and "deadline of 0.5 s" in (m.error or "")
    assert runtime.commit(m)
    events = runtime.store.events("deadline")  # recorded in the child, stored by the parent
    assert len(events) == 1 and events[0][2]["job"] == "tcp"
    runtime.close()


def test_the_daemon_does_not_import_the_collectors_it_runs(tmp_path: Path) -> None:
    """Validation and jobs run in children: after a run of an ``http`` job the daemon
    process (a new installation: it makes its agent id) has imported neither the collector
    nor ``http.client`` / ``ssl``."""
    config = tmp_path / "agent.toml"
    config.write_text(
        f'[store]\npath = "{tmp_path / "s.sqlite"}"\n[agent]\ntimezone = "UTC"\n'
        '[[jobs]]\nname = "web"\ncollector = "http"\ntarget = "@reference/http"\n'
        'interval = "1h"\nspread = "0s"\n'
    )
    probe = (
        "import sys, json\n"
        "from qos_agent.cli import main\n"
        f"code = main(['run', '--config', {str(config)!r}, '--max-runs', '1'])\n"
        "print(json.dumps([code, sorted(sys.modules)]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": PYTHONPATH, "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path)},
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    code, modules = json.loads(out.stdout.strip().splitlines()[-1])
    assert code == 0
    leaked = [m for m in modules if m in {"ssl", "http.client", "qos_agent.collectors.http"}]
    assert leaked == []
    # nor what only parsing exact limits or making record ids needs (0.7 and 0.4 MB)
    assert [m for m in modules if m in {"fractions", "decimal", "uuid"}] == []
    assert "qos_agent.refserver.server" not in modules
