"""Test data factories: valid :mod:`qos.records` objects with defaults a test overrides.

Every test that needs a record starts from the same envelope (one OK attempt of the ICMP
collector of ``agent-1`` against loopback at :data:`T0`) and changes only what it is about,
so that the record layout is written down once.  Standard library and ``qos`` only: the
crash-writer child process imports this module and must start quickly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from qos.records import (
    Measurement,
    ProbeSample,
    RttResult,
    Status,
    ThroughputInterval,
    ThroughputResult,
    TimingResult,
)

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

ENVELOPE: Mapping[str, Any] = {
    "agent_id": "agent-1",
    "collector": "icmp",
    "target": "127.0.0.1",
    "started_at": T0,
    "duration_s": 1.0,
    "status": Status.OK,
}


def measurement(**changes: Any) -> Measurement:
    """A :class:`Measurement` built from :data:`ENVELOPE` with ``changes`` applied.

    The values are ``Any`` because tests also pass deliberately wrong ones (a naive start
    time, an unknown status string) to check the record's own validation.  ``id`` is left to
    the record's default factory unless a test names one.
    """
    fields = {**ENVELOPE, **changes}
    return Measurement(**fields)


def rtt_result(
    probes: Iterable[ProbeSample],
    *,
    interval_s: float = 0.02,
    timeout_s: float = 1.0,
    **extra: Any,
) -> RttResult:
    """An RTT result with the collectors' usual 20 ms interval and 1 s timeout."""
    return RttResult(probes=tuple(probes), interval_s=interval_s, timeout_s=timeout_s, **extra)


def throughput_result(
    bytes_total: int,
    goodput_bps: float | None,
    *,
    direction: str = "download",
    streams: int = 4,
    duration_s: float = 10.0,
    warmup_s: float = 0.0,
    intervals: Iterable[ThroughputInterval] = (),
    details: Mapping[str, Any] | None = None,
) -> ThroughputResult:
    """A throughput result; ``details`` (JSON-like, any value) defaults to none."""
    return ThroughputResult(
        direction=direction,
        streams=streams,
        duration_s=duration_s,
        warmup_s=warmup_s,
        bytes_total=bytes_total,
        goodput_bps=goodput_bps,
        intervals=tuple(intervals),
        details=details or {},
    )


def unanswered_dns(**changes: Any) -> Measurement:
    """A DNS lookup that timed out: a timing result whose only phase has no value."""
    fields: dict[str, Any] = {
        "collector": "dns",
        "target": "127.0.0.1:53",
        "duration_s": 0.01,
        "status": Status.TIMEOUT,
        "result": TimingResult({"lookup_s": None}, outcome=None),
        "error": "no answer within 1 s",
    }
    return measurement(**{**fields, **changes})
