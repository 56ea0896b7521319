"""Agent runtime: config → collectors → records → store → exporters (docs/architecture.md §5.1).

:class:`AgentRuntime` owns the store, the reference services and the exporters and runs one
job at a time.  It never loses a record it can keep somewhere and never dies on one bad job:

* a collector failure is an ``error`` record (``run_collector``); a collector still running
  at its deadline is cut off, recorded as an ``error`` record and as a ``deadline`` event;
* a store failure (disk full, locked) keeps the record in a bounded in-memory queue
  (``[store] backlog_limit``) retried with exponential backoff while the agent idles, so
  the queue drains within one scheduling interval once the store accepts writes again;
  beyond the bound, and at shutdown, queued records go to a spill file
  (:mod:`qos_agent.spill`) that the next start imports exactly once; if even that fails, the
  log names every lost record;
* exporters are fed by :class:`~qos_agent.delivery.Delivery` (cursors, retries): a failing
  exporter never stops the store or the other exporters;
* ``[store] max_size`` prunes the oldest records every exporter has delivered;
* a wall-clock step (NTP, suspend) is logged and recorded as a ``clock_step`` event.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from qos.config import AgentConfig, JobConfig
from qos.errors import (
    DuplicateRecordError,
    SerializationError,
    StoreBusyError,
    StoreError,
    StoreFullError,
)
from qos.paths import data_dir
from qos.records import Measurement, Status, utc_now
from qos.serialization import dumps, loads
from qos.store import SqliteStore
from qos_agent import collectors
from qos_agent.collectors.base import MeasureContext, run_collector
from qos_agent.delivery import Delivery
from qos_agent.exporters import Exporter, ExporterContext, build_exporters
from qos_agent.identity import resolve_agent_id, resolve_timezone
from qos_agent.isolation import fork_available, run_in_child
from qos_agent.net.clock import Clock
from qos_agent.reference import ReferenceServices
from qos_agent.retention import enforce_max_size
from qos_agent.scheduler import skipped_record
from qos_agent.spill import import_spills, pending_spills, write_spill

log = logging.getLogger(__name__)

#: how long one write waits for another connection's lock before the record is queued
STORE_BUSY_TIMEOUT_S = 2.0
RETRY_FIRST_S = 0.5
RETRY_MAX_S = 60.0
#: a collector asked to stop at its deadline gets this long to hand back what it measured
DEADLINE_GRACE_S = 1.0
#: a job's child process is killed this long after its deadline and grace have passed
CHILD_MARGIN_S = 5.0


@dataclass
class AgentRuntime:
    config: AgentConfig
    clock: Clock = field(default_factory=Clock)
    #: set to cut a running collector short (second signal); records are still written
    abort: threading.Event = field(default_factory=threading.Event)
    monotonic: Callable[[], float] = time.monotonic
    #: run each job in a forked child (:mod:`qos_agent.isolation`), as the daemon does
    isolate: bool = False

    def __post_init__(self) -> None:
        #: in a job's child process: events collected here go back with the record
        self._child_events: list[tuple[str, dict[str, object]]] | None = None
        self.store_path = self.config.store.resolved_path()
        self.agent_id = resolve_agent_id(self.config.agent.id, data_dir_for(self.store_path))
        self.timezone = resolve_timezone(self.config.agent.timezone)
        self.reference = ReferenceServices(self.config.reference.bind)
        self._backlog: deque[Measurement] = deque()
        #: id → store key of records a job's process stored itself, until committed here
        self._stored_by_child: dict[str, int] = {}
        self._lock = threading.RLock()
        self._failures = 0
        self._retry_at = 0.0
        self._top = 0
        self._spills_pending = bool(pending_spills(self.spill_dir))
        self.store: SqliteStore | None = None
        self.delivery: Delivery | None = None
        self.exporters: list[Exporter] = build_exporters(
            self.config.exporters, ExporterContext(backlog=lambda: len(self._backlog))
        )
        try:
            self._attach_store()
        except BaseException:
            self._close_exporters()
            raise

    @property
    def spill_dir(self) -> Path:
        return self.config.store.resolved_spill_dir()

    def _attach_store(self) -> bool:
        """Open the store (again); False while it cannot be opened (a full disk may leave no
        room for its WAL files) — records then wait in the queue and the spill file."""
        if self.store is not None:
            return True
        try:
            store = SqliteStore(self.store_path, timeout_s=STORE_BUSY_TIMEOUT_S)
        except (StoreFullError, StoreBusyError) as exc:
            log.error("cannot open the store yet (records are queued): %s", exc)
            return False
        try:
            store.register_agent(
                self.agent_id, timezone=self.timezone, labels=dict(self.config.agent.labels)
            )
        except StoreError as exc:  # a full disk must not keep the agent from measuring
            log.error("cannot record the agent in the store (retried at next start): %s", exc)
        self.store = store
        self._top = store.max_mid()
        self.delivery = Delivery(store, self.exporters, self.monotonic)
        self._import_spills()
        return True

    def _close_exporters(self) -> None:
        for exporter in self.exporters:
            try:
                exporter.close()
            except Exception as exc:
                log.error("exporter %s failed to close: %s", exporter.name, exc)

    # -- jobs --------------------------------------------------------------------------
    def labels_for(self, job: JobConfig) -> dict[str, str]:
        return {**dict(self.config.agent.labels), **dict(job.labels), "job": job.name}

    def run_job(self, job: JobConfig) -> Measurement:
        """Run one job now and return its record (not yet stored)."""
        if self.isolate and fork_available():
            return self._run_in_child(job)
        return self._run_here(job)

    def _run_in_child(self, job: JobConfig) -> Measurement:
        """:meth:`_run_here` in a forked child.  The child stores the record itself when the
        store is open and nothing is queued before it, so the daemon never holds the
        record's probes (decoding one leaves about a megabyte that the allocator keeps); it
        then answers the record's store key and, unless an exporter or a byte budget needs
        the whole record, only its envelope.  Otherwise the whole record comes back over the
        pipe and is stored here.  A child that dies, answers nonsense or outlives its
        deadline is killed and becomes an ``error`` record, so the run is never lost (a
        child killed between storing its record and answering leaves both records)."""
        started_at, start = self.clock.wall(), self.monotonic()
        limit = job.effective_deadline_s + DEADLINE_GRACE_S + CHILD_MARGIN_S
        store_in_child = self.store is not None and not self._backlog
        result = run_in_child(
            lambda: self._child_answer(job, store_in_child),
            timeout_s=limit,
            interrupt=self.abort,
            on_interrupt=self.abort.set,
            fork_guard=self._store_closed_across_fork(),
        )
        problem = result.problem
        if result.output is not None:
            try:
                return self._read_child_answer(result.output)
            except (ValueError, TypeError, SerializationError) as exc:
                problem = f"answered something unreadable ({exc})"
        if result.timed_out:
            self.record_event(
                "deadline", job=job.name, collector=job.collector, deadline_s=limit, killed=True
            )
        log.error("job %s: its process %s", job.name, problem)
        return self._failed(job, started_at, start, f"job process {problem}")

    @contextlib.contextmanager
    def _store_closed_across_fork(self) -> Iterator[None]:
        """Close the store's connection for the fork and reopen it in the parent right
        after, under the lock that keeps other threads (streams) away from the store."""
        with self._lock:
            store = self.store
            if store is None:
                yield
                return
            store.close()
            try:
                yield
            finally:
                self._reopen(store)

    def _reopen(self, store: SqliteStore) -> None:
        try:
            store.reopen()
        except StoreError as exc:  # e.g. no room for the WAL files: reattached later
            log.error("cannot reopen the store (records are queued): %s", exc)
            self.store = None
            self.delivery = None

    def _read_child_answer(self, output: bytes) -> Measurement:
        """Record the child's events and return its record (noting its key if stored)."""
        head, _, body = output.partition(b"\n")
        answer = json.loads(head)
        for kind, detail in answer["events"]:
            self.record_event(kind, **detail)
        record = loads(body.decode("utf-8"))
        stored = answer["stored"]
        if stored is not None:
            self._stored_by_child[record.id] = int(stored)
        return record

    def _child_answer(self, job: JobConfig, store_here: bool) -> bytes:
        """In the child: run the job, store its record if ``store_here`` (a store that
        refuses it leaves it to the parent's queue), answer with a JSON line (events and
        the store key, or null) and the record."""
        self._child_events = []
        record = self._run_here(job)
        stored = self._store_from_child(record) if store_here else None
        answer = json.dumps({"events": self._child_events, "stored": stored}, default=str)
        if stored is not None and not self._parent_needs_records():
            record = dataclasses.replace(record, result=None)  # the probes are in the store
        return (answer + "\n" + dumps(record)).encode("utf-8")

    def _store_from_child(self, record: Measurement) -> int | None:
        """Append ``record`` over the child's own connection; None if the store refuses."""
        try:
            with SqliteStore(self.store_path, timeout_s=STORE_BUSY_TIMEOUT_S) as store:
                return store.append(record)
        except StoreError as exc:
            log.error("the job's process cannot store %s (handed back): %s", record.id, exc)
            return None

    def _parent_needs_records(self) -> bool:
        """Exporters take every record and a daily byte budget counts each run's bytes:
        then the daemon needs whole records, else the envelope is enough."""
        return bool(self.exporters) or any(
            job.daily_budget_bytes is not None for job in self.config.jobs
        )

    def _failed(
        self, job: JobConfig, started_at: datetime, start: float, error: str
    ) -> Measurement:
        return Measurement(
            agent_id=self.agent_id,
            collector=job.collector,
            target=job.target,
            started_at=started_at,
            duration_s=max(0.0, self.monotonic() - start),
            status=Status.ERROR,
            error=error,
            params=dict(job.params),
            labels=self.labels_for(job),
        )

    def _run_here(self, job: JobConfig) -> Measurement:
        collector = collectors.get(job.collector)
        if job.target.startswith("@reference/") and not self.config.reference.enabled:
            return self.skipped(job, "reference services are disabled ([reference] enabled)")
        target = self.reference.resolve(job.target)
        try:
            measurement = self._run_with_deadline(job, collector, target)
        finally:
            self.reference.release()
        if target != job.target:
            # Keep the stable name as the target (its ephemeral port changes every run, and
            # scoring scopes by target); the address actually measured goes to a label.
            measurement = _retarget(measurement, job.target, target)
        return measurement

    def _run_with_deadline(
        self, job: JobConfig, collector: collectors.Collector, target: str
    ) -> Measurement:
        """Run the collector in a worker thread; past the job's deadline it is asked to stop,
        and if it still does not return it is abandoned and an ``error`` record is made."""
        stop = threading.Event()
        context = MeasureContext(
            agent_id=self.agent_id, clock=self.clock, labels=self.labels_for(job), stop=stop
        )
        outcome: dict[str, object] = {}

        def body() -> None:
            try:
                outcome["record"] = run_collector(collector, target, job.params, context)
            except BaseException as exc:  # ParameterError: re-raised in the caller
                outcome["error"] = exc

        started_at = self.clock.wall()
        start = self.monotonic()
        worker = threading.Thread(target=body, name=f"job {job.name}", daemon=True)
        worker.start()
        deadline = start + job.effective_deadline_s
        while worker.is_alive() and self.monotonic() < deadline:
            if self.abort.is_set():
                stop.set()
            worker.join(min(0.5, max(0.0, deadline - self.monotonic())))
        late = worker.is_alive()
        if late:
            stop.set()
            worker.join(DEADLINE_GRACE_S)
        if "error" in outcome:
            raise outcome["error"]  # type: ignore[misc]
        if late:
            self.record_event(
                "deadline",
                job=job.name,
                collector=job.collector,
                deadline_s=job.effective_deadline_s,
                abandoned=worker.is_alive(),
            )
        record = outcome.get("record")
        if isinstance(record, Measurement):
            return record
        log.error(
            "job %s: collector cut off at its %.0f s deadline", job.name, job.effective_deadline_s
        )
        return dataclasses.replace(
            self._failed(
                job,
                started_at,
                start,
                f"collector cut off: still running at its deadline of "
                f"{job.effective_deadline_s:g} s",
            ),
            target=target,
        )

    def skipped(self, job: JobConfig, reason: str) -> Measurement:
        return skipped_record(
            job,
            reason,
            agent_id=self.agent_id,
            wall=self.clock.wall,
            labels=dict(self.config.agent.labels),
        )

    def is_heavy(self, job: JobConfig) -> bool:
        return collectors.is_heavy(job.collector)  # from the registry: no import

    # -- events ------------------------------------------------------------------------
    def record_event(self, kind: str, **detail: object) -> None:
        """Store an agent event; a store that cannot take it only costs a log line."""
        log.warning("event %s: %s", kind, detail)
        if self._child_events is not None:  # a job's child: the parent stores it
            self._child_events.append((kind, dict(detail)))
            return
        with self._lock:  # the store's connection is closed while a job's process forks
            if self.store is None:
                return
            try:
                self.store.add_event(kind, dict(detail), at=self.clock.wall())
            except StoreError as exc:
                log.error("cannot record event %s: %s", kind, exc)

    def clock_stepped(self, step_s: float) -> None:
        self.record_event("clock_step", step_s=round(step_s, 6))

    # -- persistence -------------------------------------------------------------------
    def commit(self, measurement: Measurement) -> bool:
        """Store a record (after any backlog) and export it; False if it is only queued."""
        with self._lock:
            mid = self._stored_by_child.pop(measurement.id, None)
            if mid is not None:
                self._stored_elsewhere(mid, measurement)
                return True
            self._backlog.append(measurement)
            stored = self._flush_backlog()
            if not stored and len(self._backlog) > self.config.store.backlog_limit:
                self._spill(reason="queue full")
            if self.isolate:
                self._release_memory()
            return stored

    def _release_memory(self) -> None:
        """The daemon idles between jobs: return the store's page cache that storing a
        large record filled (``malloc_trim`` was measured too: no gain once jobs run in
        child processes, and ``ctypes`` costs 0.4 MB)."""
        if self.store is not None:
            self.store.release_memory()

    def _stored_elsewhere(self, mid: int, measurement: Measurement) -> None:
        """A job's process stored ``measurement`` under key ``mid``: export it (straight
        away if it is the next key, else exporters catch up from the store) and do what
        follows a commit."""
        previous = self._top
        self._top = max(self._top, mid)
        if self.delivery is not None:
            self.delivery.committed(mid, measurement, mid - 1 if previous == mid - 1 else -1)
        self._import_spills()
        self._enforce_max_size()
        self._release_memory()

    def _flush_backlog(self) -> bool:
        """Store queued records in order; each one is exported once it is stored."""
        if not self._attach_store():
            if self._backlog:
                self._store_failed(self._backlog[0], StoreFullError("the store is not open"))
            return False
        assert self.store is not None and self.delivery is not None
        while self._backlog:
            head = self._backlog[0]
            try:
                mid = self.store.append(head)
            except DuplicateRecordError:
                self._backlog.popleft()  # already committed by an earlier attempt
                continue
            except StoreError as exc:
                self._store_failed(head, exc)
                return False
            self._backlog.popleft()
            previous, self._top = self._top, mid
            self.delivery.committed(mid, head, previous)
        if self._failures:
            log.warning("the store accepts writes again; queue drained")
            self._failures = 0
        self._import_spills()
        self._enforce_max_size()
        return True

    def _store_failed(self, head: Measurement, exc: StoreError) -> None:
        self._failures += 1
        delay = min(RETRY_MAX_S, RETRY_FIRST_S * 2 ** (self._failures - 1))
        self._retry_at = self.monotonic() + delay
        log.error(
            "cannot store measurement %s (kept in memory, %d queued, retry in %.1f s): %s",
            head.id,
            len(self._backlog),
            delay,
            exc,
        )

    def _spill(self, *, reason: str) -> None:
        """Move the whole queue to a spill file; log every lost id if that fails too."""
        records = list(self._backlog)
        if not records:
            return
        try:
            path = write_spill(self.spill_dir, records)
        except OSError as exc:
            if reason == "queue full" and len(records) <= 2 * self.config.store.backlog_limit:
                log.error("cannot spill %d queued records (%s); kept in memory", len(records), exc)
                return
            log.critical(
                "LOST %d measurements (%s; spill to %s failed: %s): %s",
                len(records),
                reason,
                self.spill_dir,
                exc,
                " ".join(m.id for m in records),
            )
            self._backlog.clear()
            return
        self._backlog.clear()
        self._spills_pending = True
        log.warning("%s: %d queued records spilled to %s", reason, len(records), path)

    def _import_spills(self) -> None:
        if not self._spills_pending or self.store is None or self.delivery is None:
            return
        try:
            count = import_spills(self.store, self.spill_dir)
        except (StoreError, OSError) as exc:
            log.error("cannot import spill files from %s yet: %s", self.spill_dir, exc)
            return
        self._spills_pending = False
        if count:
            previous, self._top = self._top, self.store.max_mid()
            self.delivery.retry()
            log.warning("stored %d spilled records (keys %d..%d)", count, previous + 1, self._top)

    def _enforce_max_size(self) -> None:
        limit = self.config.store.max_size_bytes
        if limit is None or self.store is None or self.delivery is None:
            return
        try:
            enforce_max_size(self.store, limit, self.delivery.protected_mid())
        except StoreError as exc:
            log.error("cannot prune the store to its max_size: %s", exc)

    def idle(self) -> None:
        """Retry what failed (store writes, exporters) once its backoff has expired."""
        with self._lock:
            if self._backlog and self.monotonic() >= self._retry_at:
                self._flush_backlog()
            if self.delivery is not None:
                self.delivery.retry()

    def next_retry_at(self) -> float | None:
        times = []
        if self.delivery is not None and (at := self.delivery.next_retry_at()) is not None:
            times.append(at)
        if self._backlog:
            times.append(self._retry_at)
        return min(times) if times else None

    def waiter(self, stop: threading.Event) -> Callable[[float], bool]:
        """The scheduler's wait: sleeps until due or stopped, retrying failures meanwhile."""

        def wait(seconds: float) -> bool:
            end = self.monotonic() + max(0.0, seconds)
            while True:
                self.idle()
                now = self.monotonic()
                if now >= end:
                    return stop.is_set()
                retry = self.next_retry_at()
                step = end - now if retry is None else min(end - now, max(0.05, retry - now))
                if stop.wait(step):
                    return True

        return wait

    @property
    def backlog(self) -> int:
        return len(self._backlog)

    # -- lifecycle ---------------------------------------------------------------------
    def _stop_exporters(self) -> None:
        if self.delivery is not None:
            self.delivery.close()  # saves the cursors and closes the exporters
        else:
            self._close_exporters()
        self.delivery = None
        self.exporters = []

    def close(self) -> None:
        with self._lock:
            self._flush_backlog()
            if self._backlog:
                self._spill(reason="stopping")
            self._stop_exporters()
        self.reference.close()
        if self.store is not None:
            self.store.close()


def data_dir_for(store_path: Path) -> Path:
    """The agent id lives next to the store (the XDG data directory by default)."""
    return store_path.parent if str(store_path.parent) else data_dir()


def _retarget(m: Measurement, target: str, address: str) -> Measurement:
    return dataclasses.replace(m, target=target, labels={**dict(m.labels), "address": address})


def interruptible_wait(event: threading.Event) -> Callable[[float], bool]:
    """A wait function for the scheduler that returns early when ``event`` is set."""

    def wait(seconds: float) -> bool:
        # Event.wait raises OverflowError beyond threading.TIMEOUT_MAX (~292 years)
        return event.wait(timeout=min(max(0.0, seconds), threading.TIMEOUT_MAX))

    return wait


def monotonic_s() -> float:
    return time.monotonic()


__all__ = ["AgentRuntime", "Status", "interruptible_wait", "monotonic_s", "utc_now"]
