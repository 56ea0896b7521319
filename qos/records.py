"""Typed result records: the one envelope every collector produces (docs/architecture.md §2–3).

A :class:`Measurement` is one attempt of one collector against one target.  Failed
attempts are records too (status ``timeout``/``unreachable``/``error``/``skipped``), so an
unreachable target shows up as 100 % loss instead of a gap in the time series.

Per-kind results keep the raw material, not only summaries, so that any definition of
delay variation can be recomputed later (flent and SmokePing keep raw values):

* :class:`RttResult` keeps **every probe** (:class:`ProbeSample`): send offset, RTT or
  ``None`` when lost, TTL, duplicate count, and — for two-way protocols such as STAMP —
  the one-way components and the direction of a loss.
* :class:`ThroughputResult` keeps per-interval byte counts (:class:`ThroughputInterval`).
* :class:`TimingResult` keeps named phases of a transaction (DNS, connect, TLS, TTFB …).

Missing is ``None``, never 0; nothing is rounded (docs/architecture.md §3).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, ClassVar

#: Version of the record layout; bumped on any incompatible change (see qos.serialization).
SCHEMA_VERSION = 1


class Status(enum.StrEnum):
    """Outcome of one measurement attempt."""

    OK = "ok"
    TIMEOUT = "timeout"  # the target never answered within the timeout
    UNREACHABLE = "unreachable"  # refused, no route, host/port unreachable
    ERROR = "error"  # the collector or the peer failed (protocol error, parse error …)
    SKIPPED = "skipped"  # not attempted on purpose (budget exhausted, deferred, cannot run)


class LossDirection(enum.StrEnum):
    """Where a two-way probe was lost (RFC 8762 §4 stateful reflector)."""

    FORWARD = "forward"  # sender → reflector
    BACKWARD = "backward"  # reflector → sender
    UNKNOWN = "unknown"  # lost, direction not observable (ICMP, stateless reflector)


def _freeze(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True, slots=True)
class ProbeSample:
    """One probe packet of a round-trip stream.

    ``send_offset_s`` is the scheduled-send instant actually achieved, relative to the
    measurement's monotonic start.  ``rtt_s`` is ``None`` when no reply arrived within the
    timeout (RFC 2681 "undefined", RFC 6673 lost).  For STAMP, ``rtt_s`` has the
    reflector's residence time removed (docs/methods.md §7.5) and the one-way fields are set
    only when they were measured (``one_way_valid`` says whether both clocks claimed
    synchronisation).
    """

    seq: int
    send_offset_s: float
    rtt_s: float | None
    ttl: int | None = None
    duplicates: int = 0
    size_bytes: int | None = None
    forward_delay_s: float | None = None
    backward_delay_s: float | None = None
    reflector_residence_s: float | None = None
    lost_direction: LossDirection | None = None
    one_way_valid: bool | None = None
    reflector_ttl: int | None = None

    @property
    def lost(self) -> bool:
        return self.rtt_s is None


@dataclass(frozen=True, slots=True)
class RttResult:
    """A round-trip probe stream (ICMP echo, TCP connect, STAMP/TWAMP-Light, UDP)."""

    kind: ClassVar[str] = "rtt"
    probes: tuple[ProbeSample, ...]
    interval_s: float | None = None
    timeout_s: float | None = None
    packet_size_bytes: int | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "probes", tuple(self.probes))
        object.__setattr__(self, "details", _freeze(self.details))

    @property
    def sent(self) -> int:
        return len(self.probes)

    @property
    def received(self) -> int:
        return sum(1 for p in self.probes if p.rtt_s is not None)


@dataclass(frozen=True, slots=True)
class ThroughputInterval:
    """Bytes moved by one stream (or all, ``stream=-1``) during one reporting interval."""

    stream: int
    start_offset_s: float
    duration_s: float
    bytes: int
    warmup: bool = False  # inside the excluded slow-start period

    @property
    def rate_bps(self) -> float:
        return self.bytes * 8 / self.duration_s if self.duration_s > 0 else math.nan


@dataclass(frozen=True, slots=True)
class ThroughputResult:
    """A bulk-transfer test: goodput at transport payload (BEREC BoR (17) 178)."""

    kind: ClassVar[str] = "throughput"
    direction: str  # "download" | "upload"
    streams: int
    duration_s: float
    warmup_s: float
    bytes_total: int
    goodput_bps: float | None
    intervals: tuple[ThroughputInterval, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "intervals", tuple(self.intervals))
        object.__setattr__(self, "details", _freeze(self.details))


@dataclass(frozen=True, slots=True)
class TimingResult:
    """A transaction split into phases (DNS lookup, HTTP GET …), each in seconds or None."""

    kind: ClassVar[str] = "timing"
    phases_s: Mapping[str, float | None]
    outcome: str | None = None  # e.g. "NOERROR", "NXDOMAIN", "200"
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "phases_s", _freeze(self.phases_s))
        object.__setattr__(self, "details", _freeze(self.details))


Result = RttResult | ThroughputResult | TimingResult
RESULT_TYPES: dict[str, type[RttResult] | type[ThroughputResult] | type[TimingResult]] = {
    "rtt": RttResult,
    "throughput": ThroughputResult,
    "timing": TimingResult,
}


def new_measurement_id() -> str:
    """A random, globally unique id (UUID4 hex) — no host or time information leaks."""
    import uuid  # imported when first needed: a lean process that only stores records
    # made elsewhere (the agent daemon) never needs it

    return uuid.uuid4().hex


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Measurement:
    """One attempt of one collector against one target (the envelope of every record)."""

    agent_id: str
    collector: str
    target: str
    started_at: datetime
    duration_s: float
    status: Status
    result: Result | None = None
    error: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    id: str = field(default_factory=new_measurement_id)
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        if self.started_at.tzinfo is None or self.started_at.utcoffset() is None:
            raise ValueError("Measurement.started_at must be an aware datetime (UTC)")
        object.__setattr__(self, "started_at", self.started_at.astimezone(UTC))
        object.__setattr__(self, "status", Status(self.status))
        object.__setattr__(self, "params", _freeze(self.params))
        object.__setattr__(self, "labels", _freeze(self.labels))
        if self.duration_s < 0 or not math.isfinite(self.duration_s):
            raise ValueError("Measurement.duration_s must be a finite, non-negative number")

    @property
    def kind(self) -> str | None:
        return None if self.result is None else self.result.kind

    @property
    def ok(self) -> bool:
        return self.status is Status.OK
