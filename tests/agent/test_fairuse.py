"""Byte budgets and the cross-traffic guard, driven through the real scheduler.

The outside world is injected: a fake clock (monotonic + wall) that the scheduler's wait
advances, a fake interface-counter source whose counters grow at a set "household" rate
on that clock, and a fake job runner producing records of a known size.  What is checked
is what the scheduler records: runs, ``skipped`` records with the gate's reason, retries.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from qos.config import AgentConfig, FairUseSection, JobConfig
from qos.records import Measurement, RttResult, Status
from qos_agent.fairuse import (
    ByteBudgetGate,
    CrossTrafficGuard,
    build_gates,
    measurement_bytes,
    proc_net_dev,
    system_counters,
)
from qos_agent.gates import JobGate, JobInfo
from qos_agent.scheduler import Scheduler, skipped_record
from tests.factories import measurement, throughput_result

MB = 1_000_000


class FakeClock:
    def __init__(self, start: datetime) -> None:
        self.t = 0.0
        self.start = start

    def monotonic(self) -> float:
        return self.t

    def wall(self) -> datetime:
        return self.start + timedelta(seconds=self.t)

    def wait(self, seconds: float) -> bool:
        self.t += seconds
        return False

    def sleep(self, seconds: float) -> None:
        self.t += seconds


class Household:
    """Interface counters growing at ``rate_bps`` per direction on the fake clock."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.rate_bps = 0.0
        self.rx = self.tx = 0.0
        self.last = 0.0
        self.reads = 0

    def __call__(self) -> dict[str, tuple[int, int]]:
        self.reads += 1
        elapsed = self.clock.t - self.last
        self.rx += self.rate_bps / 8 * elapsed
        self.tx += self.rate_bps / 80 * elapsed  # downloads dominate
        self.last = self.clock.t
        return {"lo": (10**12, 10**12), "eth0": (int(self.rx), int(self.tx))}


def _throughput_record(job: JobConfig, clock: FakeClock, size: int) -> Measurement:
    clock.t += 12  # a throughput test takes a while
    return measurement(
        agent_id="a",
        collector=job.collector,
        target=job.target,
        started_at=clock.wall(),
        duration_s=12,
        result=throughput_result(size, size * 8 / 12, duration_s=10, warmup_s=2),
    )


def _run(
    jobs: list[JobConfig],
    gates: list[JobGate],
    clock: FakeClock,
    runs: int,
    size: int = 40 * MB,
    heavy: bool = True,
) -> list[Measurement]:
    records: list[Measurement] = []
    scheduler = Scheduler(
        jobs,
        lambda job: _throughput_record(job, clock, size),
        records.append,
        skipped=lambda job, reason: skipped_record(job, reason, agent_id="a", wall=clock.wall),
        is_heavy=lambda job: heavy,
        gates=gates,
        monotonic=clock.monotonic,
        wall=clock.wall,
        wait=clock.wait,
    )
    scheduler.run(threading.Event(), max_runs=runs)
    return records


JOB = JobConfig(
    name="speed",
    collector="iperf3",
    target="198.18.2.2",
    interval_s=3600,
    daily_budget_bytes=100 * MB,
)


def test_budget_skips_once_spent_and_resets_next_local_day(tmp_path: Path) -> None:
    clock = FakeClock(datetime(2026, 11, 28, 0, 30, tzinfo=UTC))
    tz = ZoneInfo("UTC")
    gate = ByteBudgetGate({"speed": 100 * MB}, tmp_path / "state.json", tz)
    records = _run([JOB], [gate], clock, runs=26)
    statuses = [r.status for r in records]
    # 40 MB per run: two runs fit (80 MB); a third would overrun 100 MB, so it is skipped
    assert statuses[:2] == [Status.OK, Status.OK]
    day1 = [r for r in records if r.started_at.date() == records[0].started_at.date()]
    assert [r.status for r in day1].count(Status.OK) == 2
    skipped = [r for r in day1 if r.status is Status.SKIPPED]
    assert skipped and all("daily byte budget" in (r.error or "") for r in skipped)
    assert "would be exceeded" in (skipped[0].error or "")
    day2 = [r for r in records if r.started_at.date() > records[0].started_at.date()]
    assert day2 and day2[0].status is Status.OK  # new local day, new budget


def test_budget_without_prediction_skips_only_when_exhausted(tmp_path: Path) -> None:
    clock = FakeClock(datetime(2026, 11, 28, 0, 30, tzinfo=UTC))
    gate = ByteBudgetGate({"speed": 100 * MB}, None, ZoneInfo("UTC"), predictive=False)
    records = _run([JOB], [gate], clock, runs=4)
    assert [r.status for r in records] == [Status.OK, Status.OK, Status.OK, Status.SKIPPED]
    assert "of 100.00 MB for job 'speed' exhausted (120.00 MB used" in (records[3].error or "")


def test_budget_survives_a_restart(tmp_path: Path) -> None:
    clock = FakeClock(datetime(2026, 11, 28, 8, 0, tzinfo=UTC))
    state = tmp_path / "state.json"
    first = ByteBudgetGate({"speed": 100 * MB}, state, ZoneInfo("UTC"))
    assert [r.status for r in _run([JOB], [first], clock, runs=2)] == [Status.OK] * 2
    saved = json.loads(state.read_text())
    assert saved["jobs"]["speed"]["bytes"] == 80 * MB
    restarted = ByteBudgetGate({"speed": 100 * MB}, state, ZoneInfo("UTC"))
    after_restart = _run([JOB], [restarted], clock, runs=1)
    assert after_restart[0].status is Status.SKIPPED


def test_budget_day_is_the_agents_local_day() -> None:
    auckland = ZoneInfo("Pacific/Auckland")  # UTC+13 in November (NZDT)
    gate = ByteBudgetGate({"speed": 50 * MB}, None, auckland, predictive=False)
    job = JobInfo(name="speed", collector="iperf3", target="x", heavy=True)
    clock = FakeClock(datetime(2026, 11, 28, 10, 30, tzinfo=UTC))  # 23:30 local
    gate.after(job, _throughput_record(JobConfig("speed", "iperf3", "x"), clock, 60 * MB))
    assert gate.before(job, datetime(2026, 11, 28, 10, 50, tzinfo=UTC)).action == "skip"
    # 11:05 UTC is 00:05 the next day in Auckland, still the same UTC day
    assert gate.before(job, datetime(2026, 11, 28, 11, 5, tzinfo=UTC)).action == "run"


def test_unreadable_state_is_moved_aside(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    state = tmp_path / "state.json"
    state.write_text("{not json")
    gate = ByteBudgetGate({"speed": 100 * MB}, state, ZoneInfo("UTC"))
    assert gate.used_today("speed", datetime(2026, 11, 28, tzinfo=UTC)) == 0
    assert (tmp_path / "state.json.unreadable").exists()
    assert "unreadable" in caplog.text


def test_cross_traffic_defers_then_runs_when_the_household_is_quiet() -> None:
    clock = FakeClock(datetime(2026, 11, 28, 19, 0, tzinfo=UTC))
    household = Household(clock)
    guard = CrossTrafficGuard(
        threshold_bps=2e6,
        interfaces=["eth0"],
        sample_s=1.0,
        retry_after_s=300,
        counters=household,
        sleep=clock.sleep,
        monotonic=clock.monotonic,
    )
    job = JobConfig(name="speed", collector="iperf3", target="x", interval_s=3600)
    records: list[Measurement] = []
    scheduler = Scheduler(
        [job],
        lambda j: _throughput_record(j, clock, MB),
        records.append,
        skipped=lambda j, reason: skipped_record(j, reason, agent_id="a", wall=clock.wall),
        is_heavy=lambda j: True,
        gates=[guard],
        monotonic=clock.monotonic,
        wall=clock.wall,
        wait=clock.wait,
    )
    stop = threading.Event()
    household.rate_bps = 20e6  # someone is streaming
    scheduler.run(stop, max_runs=1)
    assert records[0].status is Status.SKIPPED
    assert (records[0].error or "").startswith("defer: user traffic on eth0 is 20")
    assert "above the 2" in (records[0].error or "")
    t_deferred = clock.t
    household.rate_bps = 0.5e6  # the film ended
    scheduler.run(stop, max_runs=1)
    assert records[1].status is Status.OK
    assert clock.t - t_deferred >= 300  # retried after retry_after_s, not at once
    assert clock.t - t_deferred < 3600  # and not only at the next hourly slot


def test_cross_traffic_gives_up_after_max_deferrals() -> None:
    clock = FakeClock(datetime(2026, 11, 28, 19, 0, tzinfo=UTC))
    household = Household(clock)
    household.rate_bps = 50e6
    guard = CrossTrafficGuard(
        threshold_bps=2e6,
        interfaces=None,
        sample_s=0.5,
        retry_after_s=60,
        max_deferrals=3,
        counters=household,
        sleep=clock.sleep,
        monotonic=clock.monotonic,
    )
    job = JobConfig(name="speed", collector="iperf3", target="x", interval_s=3600)
    records = _run([job], [guard], clock, runs=4)
    assert [r.error.split(":")[0] for r in records if r.error] == ["defer"] * 3 + ["skip"]
    assert "gave up after 3 deferrals" in (records[-1].error or "")


def test_light_jobs_are_not_sampled() -> None:
    clock = FakeClock(datetime(2026, 11, 28, 19, 0, tzinfo=UTC))
    household = Household(clock)
    household.rate_bps = 50e6
    guard = CrossTrafficGuard(
        threshold_bps=2e6, counters=household, sleep=clock.sleep, monotonic=clock.monotonic
    )
    job = JobConfig(name="ping", collector="icmp", target="x", interval_s=60)
    records = _run([job], [guard], clock, runs=2, heavy=False)
    assert [r.status for r in records] == [Status.OK, Status.OK]
    assert household.reads == 0


def test_unreadable_counters_let_the_job_run() -> None:
    def broken() -> dict[str, tuple[int, int]]:
        raise OSError("no /proc")

    guard = CrossTrafficGuard(threshold_bps=1e6, counters=broken, sleep=lambda s: None)
    job = JobInfo(name="speed", collector="iperf3", target="x", heavy=True)
    assert guard.before(job, datetime.now(UTC)).action == "run"


def test_proc_net_dev_format(tmp_path: Path) -> None:
    sample = tmp_path / "dev"
    sample.write_text(
        "Inter-|   Receive                                                |  Transmit\n"
        " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets "
        "errs drop fifo colls carrier compressed\n"
        "    lo:  123456     100    0    0    0     0          0         0   123456     100 "
        "   0    0    0     0       0          0\n"
        "  eth0: 9876543210 7000000 0 0 0 0 0 0 1234567 9000 0 0 0 0 0 0\n"
    )
    assert proc_net_dev(str(sample)) == {"lo": (123456, 123456), "eth0": (9876543210, 1234567)}
    assert "lo" in proc_net_dev()  # the real file parses too


def test_measurement_bytes_prefers_bytes_on_wire() -> None:
    clock = FakeClock(datetime(2026, 11, 28, tzinfo=UTC))
    job = JobConfig("speed", "iperf3", "x")
    assert measurement_bytes(_throughput_record(job, clock, 5 * MB)) == 5 * MB
    rtt = measurement(
        agent_id="a",
        collector="loaded_latency",
        target="x",
        started_at=clock.wall(),
        duration_s=1,
        result=RttResult(probes=(), details={"bytes_on_wire": 7 * MB}),
    )
    assert measurement_bytes(rtt) == 7 * MB
    skipped = skipped_record(job, "x", agent_id="a", wall=clock.wall)
    assert measurement_bytes(skipped) == 0


def test_build_gates_from_config(tmp_path: Path) -> None:
    config = AgentConfig(
        jobs=(JOB, JobConfig(name="ping", collector="icmp", target="x")),
        fair_use=FairUseSection(interface="eth0", threshold_bps=5e6, sample_s=0.5, defer_s=120),
    )
    gates = build_gates(config, tmp_path, "Europe/Berlin")
    budget, guard = gates
    assert isinstance(budget, ByteBudgetGate) and budget.budgets == {"speed": 100 * MB}
    assert budget.state_path == tmp_path / "fair_use_state.json"
    assert isinstance(guard, CrossTrafficGuard)
    assert guard.interfaces == ["eth0"] and guard.retry_after_s == 120
    assert build_gates(AgentConfig(), tmp_path, "UTC") == []


@pytest.mark.skipif(shutil.which("iperf3") is None, reason="Debian package iperf3 not installed")
def test_real_counters_see_a_real_transfer_on_loopback() -> None:
    """The default counter source on a real interface: an iperf3 transfer over ``lo``."""
    from tests.agent.test_iperf3_protocol import Server

    assert "lo" in system_counters()
    server = Server()
    client = server.client("-t", "4")
    try:
        time.sleep(1.0)
        guard = CrossTrafficGuard(threshold_bps=100e6, interfaces=["lo"], sample_s=1.0)
        job = JobInfo(name="speed", collector="iperf3", target="x", heavy=True)
        rates = guard.measure_rates()
        decision = guard.before(job, datetime.now(UTC))
    finally:
        client.communicate()
        server.stop()
    assert rates is not None and rates[0] > 100e6  # loopback TCP runs at Gbit/s
    assert decision.action == "defer" and "user traffic on lo" in decision.reason
