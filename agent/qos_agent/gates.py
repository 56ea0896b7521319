"""Job gates: checks the scheduler asks before and after every job (fair use).

A gate can let a job run, **skip** it (e.g. its daily byte budget is spent) or **defer**
it (e.g. the household is using the line right now; try again later).  Either way the
scheduler records a ``skipped`` measurement carrying the gate's reason, so the time series
shows why a test is missing instead of silently having a gap.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from qos.records import Measurement


@dataclass(frozen=True, slots=True)
class JobInfo:
    """What a gate may know about the job about to run."""

    name: str
    collector: str
    target: str
    heavy: bool


@dataclass(frozen=True, slots=True)
class GateDecision:
    """``run``, or ``skip``/``defer`` with a human-readable reason (stored in the record)."""

    action: Literal["run", "skip", "defer"]
    reason: str = ""
    retry_after_s: float | None = None  # for "defer": when to try again

    @classmethod
    def allow(cls) -> GateDecision:
        return cls("run")


class JobGate(Protocol):
    """Consulted by the scheduler; must be fast and must not raise for I/O trouble."""

    def before(self, job: JobInfo, now: datetime) -> GateDecision: ...

    def after(self, job: JobInfo, measurement: Measurement) -> None: ...
