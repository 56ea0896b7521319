"""The collector seam (docs/architecture.md §4): ``name``, ``check()``, ``measure()``.

A collector does thin I/O and turns every attempt into a :class:`~qos.records.Measurement`
— failures included.  ``measure`` must not raise for network trouble: a refused port is
status ``unreachable``, silence is ``timeout`` with every probe recorded as lost.
:func:`run_collector` is the safety net that converts anything unexpected into an
``error`` record, so the daemon never dies on one bad job.

Parameters are declared with :class:`ParamSpec` so that the CLI (``--param k=v``), the
config file and ``qos-agent list`` all validate and document them the same way.
"""

from __future__ import annotations

import math
import threading
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Literal

from qos.errors import ParameterError, UnitError
from qos.records import Measurement, Result, Status
from qos.suggest import unknown_name_hint
from qos.units import parse_duration_s, parse_rate_bps, parse_size_bytes
from qos_agent.net.clock import Clock

ParamKind = Literal["int", "float", "duration", "size", "rate", "str", "bool"]


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """One collector parameter: its type, default, bounds and a one-line help text."""

    name: str
    kind: ParamKind
    default: Any
    help: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] | None = None

    def convert(self, raw: Any) -> Any:
        """Convert a config/CLI value (often a string) to the declared type and check bounds."""
        try:
            value = self._convert(raw)
        except (ValueError, TypeError, UnitError) as exc:
            raise ParameterError(f"parameter '{self.name}': {exc}") from exc
        if self.choices is not None and value not in self.choices:
            raise ParameterError(
                f"parameter '{self.name}' must be one of {', '.join(self.choices)}, got {value!r}"
            )
        if isinstance(value, int | float) and not isinstance(value, bool):
            if self.minimum is not None and value < self.minimum:
                raise ParameterError(f"parameter '{self.name}' = {raw!r} is below {self.minimum}")
            if self.maximum is not None and value > self.maximum:
                raise ParameterError(f"parameter '{self.name}' = {raw!r} is above {self.maximum}")
        return value

    def _convert(self, raw: Any) -> Any:
        if isinstance(raw, Mapping | list | tuple):
            kind = "a table" if isinstance(raw, Mapping) else "an array"
            raise TypeError(f"expected a single {self.kind} value, got {kind}")
        if isinstance(raw, float) and not math.isfinite(raw):
            raise ValueError(f"{raw!r} is not finite")
        if self.kind in ("int", "float") and isinstance(raw, str) and not raw.isascii():
            raise ValueError(f"write {raw!r} with ASCII digits")  # int("١٢") would be 12
        if self.kind == "int":
            if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
                raise ValueError(f"expected an integer, got {raw!r}")
            return int(raw)
        if self.kind == "float":
            value = float(raw)
            if not math.isfinite(value):
                raise ValueError(f"{raw!r} is not finite")
            return value
        if self.kind == "duration":
            return parse_duration_s(raw, default_unit="s")
        if self.kind == "size":
            return int(parse_size_bytes(raw, default_unit="B"))
        if self.kind == "rate":
            return parse_rate_bps(raw, default_unit="bit/s")
        if self.kind == "bool":
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in {"1", "true", "yes", "on"}:
                return True
            if text in {"0", "false", "no", "off"}:
                return False
            raise ValueError(f"expected true/false, got {raw!r}")
        return str(raw)


def resolve_params(
    specs: tuple[ParamSpec, ...], raw: Mapping[str, Any], collector: str
) -> dict[str, Any]:
    """Defaults overlaid with ``raw``; unknown names fail with a did-you-mean hint."""
    by_name = {s.name: s for s in specs}
    for name in raw:
        if name not in by_name:
            raise ParameterError(
                f"collector '{collector}' has no parameter '{name}' "
                f"({unknown_name_hint(name, by_name)})"
            )
    return {s.name: s.convert(raw[s.name]) if s.name in raw else s.default for s in specs}


@dataclass(frozen=True, slots=True)
class MeasureContext:
    """What a collector may know about the run it is part of."""

    agent_id: str
    clock: Clock = field(default_factory=Clock)
    labels: Mapping[str, str] = field(default_factory=dict)
    #: set by the daemon on shutdown; long collectors stop early and record what they have
    stop: threading.Event = field(default_factory=threading.Event)


class Collector:
    """Base class for collectors; subclasses set the class attributes and implement two methods."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    #: heavy collectors (throughput) never overlap others and are subject to byte budgets
    heavy: ClassVar[bool] = False
    param_specs: ClassVar[tuple[ParamSpec, ...]] = ()

    def check(self) -> list[str]:
        """Reasons this collector cannot run on this host (empty list: it can)."""
        return []

    @staticmethod
    def requires(module: str, distribution: str) -> list[str]:
        """A :meth:`check` reason when ``module`` cannot be found: ``distribution`` is not
        installed.  The module is located, not imported, so validating a configuration
        does not load a library the agent may never use (start-up memory and time)."""
        import importlib.util

        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):  # a parent package is missing or broken
            found = False
        if found:
            return []
        return [f"{distribution} is not installed (pip install 'qos-toolkit[agent]')"]

    def resolve(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        return resolve_params(self.param_specs, raw, self.name)

    def measure(
        self, target: str, params: Mapping[str, Any], context: MeasureContext
    ) -> Measurement:
        """Run one measurement; ``params`` are already resolved (see :meth:`resolve`)."""
        raise NotImplementedError

    # helpers for subclasses -------------------------------------------------------------
    def begin(self, target: str, params: Mapping[str, Any], context: MeasureContext) -> Attempt:
        """Note the wall-clock start and monotonic start of one attempt (see :class:`Attempt`)."""
        return Attempt(
            self, target, params, context, context.clock.wall(), context.clock.monotonic_ns()
        )

    def record(
        self,
        *,
        target: str,
        context: MeasureContext,
        started_at: datetime,
        start_ns: int,
        status: Status,
        params: Mapping[str, Any],
        result: Result | None = None,
        error: str | None = None,
    ) -> Measurement:
        duration_s = max(0.0, (context.clock.monotonic_ns() - start_ns) / 1e9)
        return Measurement(
            agent_id=context.agent_id,
            collector=self.name,
            target=target,
            started_at=started_at,
            duration_s=duration_s,
            status=status,
            result=result,
            error=error,
            params=_plain(params),
            labels=dict(context.labels),
        )


@dataclass(frozen=True, slots=True)
class Attempt:
    """One measurement in progress: everything its record needs except the outcome."""

    collector: Collector
    target: str
    params: Mapping[str, Any]
    context: MeasureContext
    started_at: datetime
    start_ns: int

    def finish(
        self, status: Status, result: Result | None = None, error: str | None = None
    ) -> Measurement:
        """The attempt's record; its duration runs from :meth:`Collector.begin` to now."""
        return self.collector.record(
            target=self.target,
            context=self.context,
            started_at=self.started_at,
            start_ns=self.start_ns,
            status=status,
            params=self.params,
            result=result,
            error=error,
        )


def _plain(params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if isinstance(v, str | int | float | bool | None)}


def run_collector(
    collector: Collector, target: str, raw_params: Mapping[str, Any], context: MeasureContext
) -> Measurement:
    """Resolve parameters, check, measure — always returning a record, never raising for I/O.

    Parameter errors are the caller's mistake and do raise :class:`ParameterError`.  A
    collector that cannot run here yields a ``skipped`` record with the reason; an
    unexpected exception inside ``measure`` yields an ``error`` record with the traceback's
    last line, so one broken job never stops the daemon.
    """
    params = collector.resolve(raw_params)
    started_at = context.clock.wall()
    start_ns = context.clock.monotonic_ns()
    problems = collector.check()
    if problems:
        return collector.record(
            target=target,
            context=context,
            started_at=started_at,
            start_ns=start_ns,
            status=Status.SKIPPED,
            params=params,
            error="cannot run here: " + "; ".join(problems),
        )
    try:
        return collector.measure(target, params, context)
    except ParameterError:
        raise
    except Exception as exc:  # the safety net: a record, not a crash
        last = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return collector.record(
            target=target,
            context=context,
            started_at=started_at,
            start_ns=start_ns,
            status=Status.ERROR,
            params=params,
            error=f"collector failed: {last}",
        )
