"""Scheduler: grid + spread, one job at a time, gates that skip or defer with a record."""

from __future__ import annotations

import itertools
import random
import threading
from datetime import UTC, datetime

from qos.config import JobConfig
from qos.records import Measurement, Status
from qos_agent.gates import GateDecision, JobInfo
from qos_agent.scheduler import Scheduler, skipped_record
from tests.factories import measurement


class FakeTime:
    """A virtual clock: waiting advances time instantly, so hours run in milliseconds."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> datetime:
        return datetime.fromtimestamp(self.now, UTC)

    def wait(self, seconds: float) -> bool:
        self.now += seconds
        return False


def _ok(job: JobConfig, clock: FakeTime, duration: float = 0.0) -> Measurement:
    started = clock.wall()
    clock.now += duration
    return measurement(
        agent_id="a",
        collector=job.collector,
        target=job.target,
        started_at=started,
        duration_s=duration,
        labels={"job": job.name},
    )


def _scheduler(jobs, clock, runs, gates=(), duration=0.0, heavy=frozenset()):
    def run_job(job: JobConfig) -> Measurement:
        runs.append(("run", job.name, clock.now))
        return _ok(job, clock, duration)

    def skipped(job: JobConfig, reason: str) -> Measurement:
        runs.append(("skip", job.name, clock.now, reason))
        return skipped_record(job, reason, agent_id="a", wall=clock.wall)

    sink: list[Measurement] = []
    scheduler = Scheduler(
        jobs,
        run_job,
        sink.append,
        skipped=skipped,
        is_heavy=lambda j: j.name in heavy,
        gates=gates,
        monotonic=clock.monotonic,
        wall=clock.wall,
        wait=clock.wait,
        rng=random.Random(7),
    )
    return scheduler, sink


def test_jobs_follow_their_grid_with_spread_inside_each_slot() -> None:
    clock = FakeTime()
    start = clock.now
    runs: list[tuple] = []
    job = JobConfig(name="j", collector="icmp", target="t", interval_s=300, spread_s=30)
    scheduler, sink = _scheduler([job], clock, runs)
    scheduler.run(threading.Event(), max_runs=20)
    times = [r[2] - start for r in runs]
    assert len(sink) == 20
    for k, t in enumerate(times):
        assert k * 300 <= t <= k * 300 + 30, (k, t)
    offsets = {round(t - k * 300, 6) for k, t in enumerate(times)}
    assert len(offsets) > 10  # really random inside the slot, not a constant offset


def test_jobs_run_one_at_a_time_never_overlapping() -> None:
    clock = FakeTime()
    runs: list[tuple] = []
    jobs = [
        JobConfig(name=f"j{i}", collector="c", target="t", interval_s=10, spread_s=0)
        for i in range(3)
    ]
    scheduler, sink = _scheduler(jobs, clock, runs, duration=4.0)
    scheduler.run(threading.Event(), max_runs=12)
    intervals = sorted(
        (m.started_at.timestamp(), m.started_at.timestamp() + m.duration_s) for m in sink
    )
    for (_, end), (start, _) in itertools.pairwise(intervals):
        assert start >= end  # the next job starts only after the previous one ended


def test_missed_slots_are_not_replayed_in_a_burst() -> None:
    clock = FakeTime()
    runs: list[tuple] = []
    job = JobConfig(name="slow", collector="c", target="t", interval_s=10)
    scheduler, _ = _scheduler([job], clock, runs, duration=35.0)
    scheduler.run(threading.Event(), max_runs=3)
    starts = [r[2] for r in runs]
    assert all(b - a >= 35.0 for a, b in itertools.pairwise(starts))


class BudgetGate:
    """Allows two runs, then skips: the record must carry the reason."""

    def __init__(self) -> None:
        self.used = 0

    def before(self, job: JobInfo, now: datetime) -> GateDecision:
        if self.used >= 2:
            return GateDecision("skip", "daily byte budget of 1 MB exhausted")
        return GateDecision.allow()

    def after(self, job: JobInfo, measurement: Measurement) -> None:
        self.used += 1


def test_gate_skip_becomes_a_skipped_record_with_reason() -> None:
    clock = FakeTime()
    runs: list[tuple] = []
    job = JobConfig(name="dl", collector="http_throughput", target="t", interval_s=60)
    scheduler, sink = _scheduler([job], clock, runs, gates=[BudgetGate()])
    scheduler.run(threading.Event(), max_runs=4)
    assert [m.status for m in sink] == [Status.OK, Status.OK, Status.SKIPPED, Status.SKIPPED]
    assert "budget" in (sink[2].error or "") and sink[2].error.startswith("skip:")


class BusyLineGate:
    """Defers while 'the household is busy' (first two asks), then lets the job run."""

    def __init__(self) -> None:
        self.asked = 0

    def before(self, job: JobInfo, now: datetime) -> GateDecision:
        self.asked += 1
        if self.asked <= 2:
            return GateDecision("defer", "cross traffic 12 Mbit/s above 2 Mbit/s", 30.0)
        return GateDecision.allow()

    def after(self, job: JobInfo, measurement: Measurement) -> None:
        pass


def test_gate_defer_is_recorded_and_retried_before_the_next_slot() -> None:
    clock = FakeTime()
    start = clock.now
    runs: list[tuple] = []
    job = JobConfig(name="dl", collector="http_throughput", target="t", interval_s=3600)
    scheduler, sink = _scheduler([job], clock, runs, gates=[BusyLineGate()])
    scheduler.run(threading.Event(), max_runs=3)
    assert [m.status for m in sink] == [Status.SKIPPED, Status.SKIPPED, Status.OK]
    assert "defer" in (sink[0].error or "") and "cross traffic" in (sink[0].error or "")
    assert runs[2][0] == "run" and runs[2][2] - start == 60.0  # two 30 s deferrals


def test_stop_event_ends_the_loop() -> None:
    clock = FakeTime()
    runs: list[tuple] = []
    stop = threading.Event()
    job = JobConfig(name="j", collector="c", target="t", interval_s=1)

    def run_job(job: JobConfig) -> Measurement:
        runs.append(job.name)
        if len(runs) == 3:
            stop.set()
        return _ok(job, clock)

    scheduler = Scheduler(
        [job],
        run_job,
        lambda m: None,
        skipped=lambda j, r: skipped_record(j, r, agent_id="a", wall=clock.wall),
        monotonic=clock.monotonic,
        wall=clock.wall,
        wait=clock.wait,
    )
    assert scheduler.run(stop) == 3
