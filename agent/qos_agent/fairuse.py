"""Fair use of the user's connection: daily byte budgets and a cross-traffic guard.

Two :class:`~qos_agent.gates.JobGate` implementations the scheduler asks before every job:

* :class:`ByteBudgetGate` — per-job **daily byte budgets**, because users on metered (mobile)
  plans pay for every byte a throughput test moves.  Days are the agent's local calendar
  days (``config.agent.timezone``).  The bytes of each run are taken from its record
  (:func:`measurement_bytes`: ``details["bytes_on_wire"]`` when the collector reports it,
  else ``ThroughputResult.bytes_total``).  A job whose budget is spent — or whose next run
  would overrun it, judged by the size of its last run — is **skipped** with the reason.
  The counts are persisted (JSON, atomic replace), so restarting the agent does not
  reset the budget.
* :class:`CrossTrafficGuard` — before a **heavy** job, samples the interface byte counters
  for a short time; while the household's own traffic is above the threshold in either
  direction, the job is **deferred** (a test run now would measure the household, not the
  operator, and would disturb it).  After ``max_deferrals`` deferrals in a row the run is
  skipped instead, so a busy evening shows up in the records as skipped runs with reasons.
  The counter source is injectable (default: ``/sys/class/net/IF/statistics``, falling back
  to ``/proc/net/dev``).

Wiring (what the daemon calls)::

    from qos_agent.fairuse import build_gates
    gates = build_gates(config, state_dir, timezone)   # list of JobGate
    Scheduler(..., gates=gates)

``build_gates`` creates the budget gate when any job has ``daily_budget`` and the guard when
``[fair_use] interface`` is set (``"all"`` = every non-loopback interface).  Gates never
raise for I/O trouble: an unreadable counter lets the job run (and logs why); an
unreadable state file is moved aside and logged.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from qos.durable import atomic_write_text
from qos.records import Measurement, Status, ThroughputResult
from qos.units import format_bytes, format_rate
from qos_agent.gates import GateDecision, JobGate, JobInfo

log = logging.getLogger(__name__)

STATE_SCHEMA_VERSION = 1
STATE_FILE_NAME = "fair_use_state.json"


def measurement_bytes(measurement: Measurement) -> int:
    """Bytes a run cost the user: ``details["bytes_on_wire"]``, else ``bytes_total``, else 0."""
    result = measurement.result
    if result is None or measurement.status is Status.SKIPPED:
        return 0
    on_wire = result.details.get("bytes_on_wire")
    if isinstance(on_wire, int | float) and not isinstance(on_wire, bool) and on_wire >= 0:
        return int(on_wire)
    if isinstance(result, ThroughputResult):
        return max(0, int(result.bytes_total))
    return 0


# --- daily byte budget ---------------------------------------------------------------------
@dataclass
class _Usage:
    day: date
    bytes: int = 0
    last_run_bytes: int = 0


class ByteBudgetGate:
    """Skip a job once its bytes today (agent's local day) reach its daily budget."""

    def __init__(
        self,
        budgets: Mapping[str, float],
        state_path: Path | None,
        tz: tzinfo,
        *,
        predictive: bool = True,
    ) -> None:
        self.budgets = {name: int(b) for name, b in budgets.items() if b is not None}
        self.state_path = state_path
        self.tz = tz
        self.predictive = predictive  # also refuse a run that would overrun the budget
        self._lock = threading.Lock()
        self._usage: dict[str, _Usage] = self._load()

    def before(self, job: JobInfo, now: datetime) -> GateDecision:
        budget = self.budgets.get(job.name)
        if budget is None:
            return GateDecision.allow()
        usage = self._today(job.name, now)
        if usage.bytes >= budget:
            return GateDecision(
                "skip",
                f"daily byte budget of {format_bytes(budget)} for job "
                f"'{job.name}' exhausted ({format_bytes(usage.bytes)} used "
                f"on {usage.day.isoformat()}, agent local time)",
            )
        if self.predictive and usage.bytes + usage.last_run_bytes > budget:
            return GateDecision(
                "skip",
                f"daily byte budget of {format_bytes(budget)} for job "
                f"'{job.name}' would be exceeded: {format_bytes(usage.bytes)} "
                f"used on {usage.day.isoformat()} and the last run moved "
                f"{format_bytes(usage.last_run_bytes)}",
            )
        return GateDecision.allow()

    def after(self, job: JobInfo, measurement: Measurement) -> None:
        if job.name not in self.budgets:
            return
        spent = measurement_bytes(measurement)
        with self._lock:
            usage = self._today(job.name, measurement.started_at)
            usage.bytes += spent
            if spent:
                usage.last_run_bytes = spent
            self._save()

    def used_today(self, job_name: str, now: datetime) -> int:
        return self._today(job_name, now).bytes

    def _today(self, name: str, now: datetime) -> _Usage:
        day = now.astimezone(self.tz).date()
        usage = self._usage.get(name)
        if usage is None or usage.day != day:
            last = usage.last_run_bytes if usage is not None else 0
            usage = self._usage[name] = _Usage(day=day, last_run_bytes=last)
        return usage

    def _load(self) -> dict[str, _Usage]:
        path = self.state_path
        if path is None or not path.exists():
            return {}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("schema_version") != STATE_SCHEMA_VERSION:
                raise ValueError(f"schema_version {data.get('schema_version')!r}")
            return {
                name: _Usage(
                    day=date.fromisoformat(entry["day"]),
                    bytes=int(entry["bytes"]),
                    last_run_bytes=int(entry.get("last_run_bytes", 0)),
                )
                for name, entry in data["jobs"].items()
            }
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            aside = path.with_name(path.name + ".unreadable")
            with contextlib.suppress(OSError):
                os.replace(path, aside)
            log.warning(
                "byte-budget state %s is unreadable (%s); moved to %s, budgets start from zero",
                path,
                exc,
                aside,
            )
            return {}

    def _save(self) -> None:
        if self.state_path is None:
            return
        data = {
            "schema_version": STATE_SCHEMA_VERSION,
            "jobs": {
                name: {
                    "day": u.day.isoformat(),
                    "bytes": u.bytes,
                    "last_run_bytes": u.last_run_bytes,
                }
                for name, u in self._usage.items()
            },
        }
        try:
            atomic_write_text(self.state_path, json.dumps(data), mode=0o600, make_parents=True)
        except OSError as exc:
            log.warning("cannot save byte-budget state to %s: %s", self.state_path, exc)


# --- cross-traffic guard -------------------------------------------------------------------
class CounterSource(Protocol):
    """Returns cumulative (rx_bytes, tx_bytes) per interface name."""

    def __call__(self) -> Mapping[str, tuple[int, int]]: ...


def proc_net_dev(path: str = "/proc/net/dev") -> dict[str, tuple[int, int]]:
    """Counters of every interface from ``/proc/net/dev`` (rx bytes: field 1, tx: field 9)."""
    out: dict[str, tuple[int, int]] = {}
    with open(path, encoding="ascii") as fh:
        for line in fh.readlines()[2:]:
            name, _, fields = line.partition(":")
            values = fields.split()
            if len(values) >= 9:
                out[name.strip()] = (int(values[0]), int(values[8]))
    return out


def sysfs_counters(root: str = "/sys/class/net") -> dict[str, tuple[int, int]]:
    """Counters of every interface from ``/sys/class/net/IF/statistics``."""
    out: dict[str, tuple[int, int]] = {}
    for name in os.listdir(root):
        stats = Path(root, name, "statistics")
        try:
            out[name] = (
                int((stats / "rx_bytes").read_text()),
                int((stats / "tx_bytes").read_text()),
            )
        except (OSError, ValueError):
            continue
    return out


def system_counters() -> dict[str, tuple[int, int]]:
    """sysfs where available (Linux), else ``/proc/net/dev``."""
    try:
        return sysfs_counters()
    except OSError:
        return proc_net_dev()


class CrossTrafficGuard:
    """Defer heavy jobs while the user's own traffic on ``interfaces`` exceeds a threshold."""

    def __init__(
        self,
        *,
        threshold_bps: float,
        interfaces: Sequence[str] | None = None,
        sample_s: float = 1.0,
        retry_after_s: float = 600.0,
        max_deferrals: int = 6,
        counters: CounterSource = system_counters,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if threshold_bps <= 0 or sample_s <= 0:
            raise ValueError("threshold and sample time must be positive")
        self.threshold_bps = threshold_bps
        self.interfaces = list(interfaces) if interfaces else None  # None: all but loopback
        self.sample_s = sample_s
        self.retry_after_s = retry_after_s
        self.max_deferrals = max_deferrals
        self.counters = counters
        self.sleep = sleep
        self.monotonic = monotonic
        self._deferrals: dict[str, int] = {}

    def measure_rates(self) -> tuple[float, float] | None:
        """(rx, tx) bit/s summed over the watched interfaces during one sample; None if unknown."""
        first, t0 = self._read(), self.monotonic()
        self.sleep(self.sample_s)
        second, t1 = self._read(), self.monotonic()
        if first is None or second is None or t1 <= t0:
            return None
        rx = tx = 0
        seen = False
        for name, (rx1, tx1) in second.items():
            if name not in first:
                continue
            rx0, tx0 = first[name]
            if rx1 < rx0 or tx1 < tx0:
                continue  # counter reset (interface re-created): no usable delta
            rx, tx, seen = rx + rx1 - rx0, tx + tx1 - tx0, True
        if not seen:
            return None
        return rx * 8 / (t1 - t0), tx * 8 / (t1 - t0)

    def before(self, job: JobInfo, now: datetime) -> GateDecision:
        if not job.heavy:
            return GateDecision.allow()
        rates = self.measure_rates()
        if rates is None:
            log.warning(
                "cross-traffic guard: no readable counters for %s; job %s runs",
                self.interfaces or "any interface",
                job.name,
            )
            return GateDecision.allow()
        rx, tx = rates
        if max(rx, tx) <= self.threshold_bps:
            self._deferrals.pop(job.name, None)
            return GateDecision.allow()
        count = self._deferrals.get(job.name, 0) + 1
        where = ",".join(self.interfaces) if self.interfaces else "all interfaces"
        traffic = (
            f"user traffic on {where} is {format_rate(rx)} in / {format_rate(tx)} out "
            f"over {self.sample_s:g} s, above the {format_rate(self.threshold_bps)} "
            f"threshold"
        )
        if count > self.max_deferrals:
            self._deferrals.pop(job.name, None)
            return GateDecision("skip", f"{traffic}; gave up after {self.max_deferrals} deferrals")
        self._deferrals[job.name] = count
        return GateDecision(
            "defer",
            f"{traffic} (deferral {count} of {self.max_deferrals})",
            retry_after_s=self.retry_after_s,
        )

    def after(self, job: JobInfo, measurement: Measurement) -> None:
        self._deferrals.pop(job.name, None)

    def _read(self) -> dict[str, tuple[int, int]] | None:
        try:
            counters = dict(self.counters())
        except (OSError, ValueError) as exc:
            log.warning("cross-traffic guard cannot read interface counters: %s", exc)
            return None
        if self.interfaces is not None:
            return {k: v for k, v in counters.items() if k in self.interfaces}
        return {k: v for k, v in counters.items() if k != "lo"}


# --- factory ---------------------------------------------------------------------------------
def build_gates(
    config: Any, state_dir: Path, timezone: str | tzinfo, *, counters: CounterSource | None = None
) -> list[JobGate]:
    """Gates for an :class:`qos.config.AgentConfig`: budgets (if any job has one), the guard
    (if ``fair_use.interface`` is set).  ``state_dir`` holds the budget state file."""
    tz = ZoneInfo(timezone) if isinstance(timezone, str) else timezone
    gates: list[JobGate] = []
    budgets = {
        job.name: job.daily_budget_bytes
        for job in config.jobs
        if getattr(job, "daily_budget_bytes", None) is not None
    }
    if budgets:
        gates.append(ByteBudgetGate(budgets, Path(state_dir) / STATE_FILE_NAME, tz))
    fair = config.fair_use
    if fair.interface:
        interfaces = (
            None
            if fair.interface == "all"
            else [name.strip() for name in fair.interface.split(",") if name.strip()]
        )
        gates.append(
            CrossTrafficGuard(
                threshold_bps=fair.threshold_bps,
                interfaces=interfaces,
                sample_s=fair.sample_s,
                retry_after_s=fair.defer_s,
                counters=counters or system_counters,
            )
        )
    return gates
