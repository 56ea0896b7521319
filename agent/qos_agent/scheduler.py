"""The job scheduler: intervals with random spread, one job at a time (docs/architecture.md §2.1).

Each job runs at ``start + k·interval + U(0, spread)``: anchored to a fixed grid so it
never drifts, spread at random inside each slot so a fleet of agents never fires in step
(RIPE Atlas ``spread``).  Jobs run strictly one after another, so a heavy throughput test
can never overlap a latency probe.  Before each job the gates are asked (byte budgets,
cross-traffic guard); a refusal becomes a ``skipped`` record carrying the reason, and a
deferral retries later, so the time series shows why a test is missing.

The grid runs on the monotonic clock, so a wall-clock step (NTP correcting a drifted
clock, a suspended laptop) never shifts or bunches jobs; the step is detected by comparing
the wall clock with the monotonic clock and reported to ``on_clock_step`` (the runtime
records it as an event, since the records' wall-clock start times jump with it).
"""

from __future__ import annotations

import heapq
import logging
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from qos.config import JobConfig
from qos.records import Measurement, Status
from qos_agent.gates import GateDecision, JobGate, JobInfo

log = logging.getLogger(__name__)

#: a change of (wall − monotonic) larger than this is reported as a clock step
CLOCK_STEP_S = 1.0


@dataclass(order=True)
class _Entry:
    due_s: float
    order: int
    job: JobConfig = field(compare=False)
    slot: int = field(compare=False, default=0)


class Scheduler:
    """Runs jobs on their grid until ``stop`` is set or ``max_runs`` jobs have run."""

    def __init__(
        self,
        jobs: Sequence[JobConfig],
        run_job: Callable[[JobConfig], Measurement],
        sink: Callable[[Measurement], object],  # any return value is ignored
        *,
        skipped: Callable[[JobConfig, str], Measurement],
        is_heavy: Callable[[JobConfig], bool] = lambda job: False,
        gates: Sequence[JobGate] = (),
        monotonic: Callable[[], float],
        wall: Callable[[], datetime],
        wait: Callable[[float], bool],
        rng: random.Random | None = None,
        on_clock_step: Callable[[float], None] | None = None,
    ) -> None:
        self._run_job = run_job
        self._sink = sink
        self._skipped = skipped
        self._is_heavy = is_heavy
        self._gates = list(gates)
        self._monotonic = monotonic
        self._wall = wall
        self._wait = wait  # waits up to N seconds; returns True when asked to stop
        self._rng = rng or random.Random()
        self._on_clock_step = on_clock_step
        self._start = monotonic()
        self._offset = self._clock_offset()
        self._queue: list[_Entry] = []
        for order, job in enumerate(j for j in jobs if j.enabled):
            heapq.heappush(self._queue, _Entry(self._slot_time(job, 0), order, job, 0))

    def _slot_time(self, job: JobConfig, slot: int) -> float:
        jitter = self._rng.uniform(0.0, job.spread_s) if job.spread_s > 0 else 0.0
        return self._start + slot * job.interval_s + jitter

    def run(self, stop: threading.Event, *, max_runs: int | None = None) -> int:
        """Run until stopped; returns how many records were produced."""
        produced = 0
        while not stop.is_set():
            self._check_clock()
            if max_runs is not None and produced >= max_runs:
                break
            if not self._queue:  # streams only: idle until stopped
                if self._wait(3600.0):
                    break
                continue
            entry = self._queue[0]
            delay = entry.due_s - self._monotonic()
            if delay > 0:
                if self._wait(delay):
                    break
                continue
            heapq.heappop(self._queue)
            produced += self._run_entry(entry)
        return produced

    def _clock_offset(self) -> float:
        return self._wall().timestamp() - self._monotonic()

    def _check_clock(self) -> None:
        offset = self._clock_offset()
        step = offset - self._offset
        self._offset = offset
        if abs(step) > CLOCK_STEP_S:
            log.warning("the wall clock stepped by %+.3f s; the schedule is unaffected", step)
            if self._on_clock_step is not None:
                try:
                    self._on_clock_step(step)
                except Exception:
                    log.exception("recording the clock step failed")

    def _run_entry(self, entry: _Entry) -> int:
        job = entry.job
        info = JobInfo(
            name=job.name, collector=job.collector, target=job.target, heavy=self._is_heavy(job)
        )
        decision = self._ask_gates(info)
        if decision.action == "run":
            measurement = self._run_job(job)
            for gate in self._gates:
                try:
                    gate.after(info, measurement)
                except Exception:  # a broken gate must not lose the record
                    log.exception("gate %r failed after job %s", gate, job.name)
        else:
            measurement = self._skipped(job, f"{decision.action}: {decision.reason}")
        self._sink(measurement)
        self._reschedule(entry, decision)
        return 1

    def _ask_gates(self, info: JobInfo) -> GateDecision:
        now = self._wall()
        for gate in self._gates:
            try:
                decision = gate.before(info, now)
            except Exception as exc:
                log.exception("gate %r failed before job %s", gate, info.name)
                return GateDecision("skip", f"gate error: {exc}")
            if decision.action != "run":
                return decision
        return GateDecision.allow()

    def _reschedule(self, entry: _Entry, decision: GateDecision) -> None:
        job = entry.job
        if decision.action == "defer" and decision.retry_after_s:
            retry = self._monotonic() + decision.retry_after_s
            next_slot_time = self._start + (entry.slot + 1) * job.interval_s
            if retry < next_slot_time:
                heapq.heappush(self._queue, _Entry(retry, entry.order, job, entry.slot))
                return
        slot = entry.slot + 1
        # Skip slots that already passed (a long job or a suspended laptop): no burst of
        # catch-up runs, the grid simply continues.
        now = self._monotonic()
        while self._start + (slot + 1) * job.interval_s <= now:
            slot += 1
        heapq.heappush(self._queue, _Entry(self._slot_time(job, slot), entry.order, job, slot))


def skipped_record(
    job: JobConfig,
    reason: str,
    *,
    agent_id: str,
    wall: Callable[[], datetime],
    labels: dict[str, str] | None = None,
) -> Measurement:
    """The record of a job that was not attempted, with the reason."""
    return Measurement(
        agent_id=agent_id,
        collector=job.collector,
        target=job.target,
        started_at=wall(),
        duration_s=0.0,
        status=Status.SKIPPED,
        error=reason,
        params=dict(job.params),
        labels={**(labels or {}), **dict(job.labels), "job": job.name},
    )
