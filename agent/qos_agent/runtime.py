"""Agent runtime: config → collectors → records → store → exporters (docs/architecture.md §5.1).

:class:`AgentRuntime` owns the store, the reference services and the exporters and runs one
job at a time.  It never loses a committed record and never dies on one bad job:

* a collector failure is an ``error`` record (``run_collector``);
* a store failure (disk full, locked) keeps the record in a bounded in-memory backlog that
  is retried before the next write, and is logged loudly;
* an exporter failure is logged and never stops the store or the other exporters.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from qos.config import AgentConfig, JobConfig
from qos.errors import QosError, StoreError
from qos.paths import data_dir
from qos.records import Measurement, Status, utc_now
from qos.store import SqliteStore
from qos_agent import collectors
from qos_agent.collectors.base import MeasureContext, run_collector
from qos_agent.exporters import Exporter, build_exporters
from qos_agent.identity import resolve_agent_id, resolve_timezone
from qos_agent.net.clock import Clock
from qos_agent.reference import ReferenceServices
from qos_agent.scheduler import skipped_record

log = logging.getLogger(__name__)

BACKLOG_LIMIT = 10_000


@dataclass
class AgentRuntime:
    config: AgentConfig
    clock: Clock = field(default_factory=Clock)
    #: set to cut a running collector short (second signal); records are still written
    abort: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        store_path = self.config.store.resolved_path()
        self.agent_id = resolve_agent_id(self.config.agent.id, data_dir_for(store_path))
        self.timezone = resolve_timezone(self.config.agent.timezone)
        self.store = SqliteStore(store_path)
        self.store.register_agent(
            self.agent_id, timezone=self.timezone, labels=dict(self.config.agent.labels)
        )
        self.reference = ReferenceServices(self.config.reference.bind)
        self.exporters: list[Exporter] = build_exporters(self.config.exporters)
        self._backlog: deque[Measurement] = deque()
        self._lock = threading.Lock()

    # -- jobs --------------------------------------------------------------------------
    def labels_for(self, job: JobConfig) -> dict[str, str]:
        return {**dict(self.config.agent.labels), **dict(job.labels), "job": job.name}

    def run_job(self, job: JobConfig) -> Measurement:
        """Run one job now and return its record (not yet stored)."""
        context = MeasureContext(
            agent_id=self.agent_id, clock=self.clock, labels=self.labels_for(job), stop=self.abort
        )
        collector = collectors.get(job.collector)
        if job.target.startswith("@reference/") and not self.config.reference.enabled:
            return skipped_record(
                job,
                "reference services are disabled ([reference] enabled)",
                agent_id=self.agent_id,
                wall=self.clock.wall,
                labels=dict(self.config.agent.labels),
            )
        target = self.reference.resolve(job.target)
        measurement = run_collector(collector, target, job.params, context)
        if target != job.target:
            # Keep the stable name as the target (its ephemeral port changes every run, and
            # scoring scopes by target); the address actually measured goes to a label.
            measurement = _retarget(measurement, job.target, target)
        return measurement

    def skipped(self, job: JobConfig, reason: str) -> Measurement:
        return skipped_record(
            job,
            reason,
            agent_id=self.agent_id,
            wall=self.clock.wall,
            labels=dict(self.config.agent.labels),
        )

    def is_heavy(self, job: JobConfig) -> bool:
        try:
            return collectors.get(job.collector).heavy
        except QosError:
            return False

    # -- persistence -------------------------------------------------------------------
    def commit(self, measurement: Measurement) -> bool:
        """Store a record (after any backlog) and export it; False if it is only queued."""
        with self._lock:
            self._backlog.append(measurement)
            return self._flush_backlog()

    def _flush_backlog(self) -> bool:
        """Store queued records in order; each one is exported once it is stored."""
        while self._backlog:
            head = self._backlog[0]
            try:
                self.store.append(head)
            except StoreError as exc:
                if "UNIQUE constraint failed" in str(exc):
                    self._backlog.popleft()  # already committed by an earlier attempt
                    continue
                log.error(
                    "cannot store measurement %s (kept in memory, %d queued): %s",
                    head.id,
                    len(self._backlog),
                    exc,
                )
                while len(self._backlog) > BACKLOG_LIMIT:
                    dropped = self._backlog.popleft()
                    log.critical("backlog full: dropped measurement %s", dropped.id)
                return False
            self._backlog.popleft()
            self._export(head)
        return True

    def _export(self, measurement: Measurement) -> None:
        for exporter in self.exporters:
            try:
                exporter.export(measurement)
            except Exception as exc:  # one exporter never stops the others
                log.error("exporter %s failed: %s", exporter.name, exc)

    @property
    def backlog(self) -> int:
        return len(self._backlog)

    def close(self) -> None:
        with self._lock:
            self._flush_backlog()
        self.reference.close()
        for exporter in self.exporters:
            try:
                exporter.close()
            except Exception as exc:
                log.error("exporter %s failed to close: %s", exporter.name, exc)
        self.store.close()


def data_dir_for(store_path: Path) -> Path:
    """The agent id lives next to the store (the XDG data directory by default)."""
    return store_path.parent if str(store_path.parent) else data_dir()


def _retarget(m: Measurement, target: str, address: str) -> Measurement:
    return Measurement(
        id=m.id,
        agent_id=m.agent_id,
        collector=m.collector,
        target=target,
        started_at=m.started_at,
        duration_s=m.duration_s,
        status=m.status,
        result=m.result,
        error=m.error,
        params=m.params,
        labels={**dict(m.labels), "address": address},
        schema_version=m.schema_version,
    )


def interruptible_wait(event: threading.Event) -> Callable[[float], bool]:
    """A wait function for the scheduler that returns early when ``event`` is set."""

    def wait(seconds: float) -> bool:
        # Event.wait raises OverflowError beyond threading.TIMEOUT_MAX (~292 years)
        return event.wait(timeout=min(max(0.0, seconds), threading.TIMEOUT_MAX))

    return wait


def monotonic_s() -> float:
    return time.monotonic()


__all__ = ["AgentRuntime", "Status", "interruptible_wait", "monotonic_s", "utc_now"]
