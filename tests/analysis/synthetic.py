"""Synthetic data with a known truth, written through the real code path.

Probe streams are built as :class:`qos.records.Measurement` objects (the records every
collector produces) and stored with :meth:`qos.store.sqlite.SqliteStore.append`, so tests
exercise the same schema the agent writes.  Truth is chosen by the caller:

* RTT = ``base_rtt_s`` + a uniform jitter in [0, ``jitter_s``) (so the 99.9th percentile
  minus the minimum tends to ``jitter_s``, the mean to base + jitter/2);
* loss from a two-state Gilbert chain with long-run loss ratio ``loss`` and mean burst
  length ``burst_len`` (``burst_len = 1`` gives independent loss, BurstR = 1).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from qos.records import (
    LossDirection,
    Measurement,
    ProbeSample,
    Status,
    ThroughputInterval,
    TimingResult,
)
from qos.store.sqlite import SqliteStore
from tests.factories import measurement, rtt_result, throughput_result

T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # a Monday


def gilbert_trace(
    rng: np.random.Generator, n: int, loss: float, burst_len: float = 1.0
) -> np.ndarray:
    """Boolean loss trace (True = lost) from a Gilbert chain with the given mean loss."""
    if loss <= 0:
        return np.zeros(n, dtype=bool)
    if loss >= 1:
        return np.ones(n, dtype=bool)
    r = 1.0 / burst_len  # P(lost → received)
    p = loss * r / (1 - loss)  # P(received → lost): stationary loss p/(p + r) = loss
    if burst_len == 1.0:
        return rng.random(n) < loss
    out = np.empty(n, dtype=bool)
    state = rng.random() < loss
    draws = rng.random(n)
    for i in range(n):
        out[i] = state
        state = draws[i] >= r if state else draws[i] < p
    return out


def rtt_probes(
    rng: np.random.Generator,
    n: int,
    *,
    base_rtt_s: float,
    jitter_s: float,
    loss: float = 0.0,
    burst_len: float = 1.0,
    interval_s: float = 0.02,
    one_way: bool = False,
) -> tuple[ProbeSample, ...]:
    lost = gilbert_trace(rng, n, loss, burst_len)
    rtts = base_rtt_s + rng.uniform(0.0, jitter_s, n) if jitter_s > 0 else np.full(n, base_rtt_s)
    probes = []
    for i in range(n):
        rtt = None if lost[i] else float(rtts[i])
        extra = {}
        if one_way:
            # Losses alternate between the directions so both one-way ratios are known.
            direction = None
            if rtt is None:
                direction = LossDirection.FORWARD if i % 2 == 0 else LossDirection.BACKWARD
            extra = {
                "forward_delay_s": None if rtt is None else rtt * 0.4,
                "backward_delay_s": None if rtt is None else rtt * 0.6,
                "one_way_valid": True,
                "lost_direction": direction,
            }
        probes.append(ProbeSample(seq=i, send_offset_s=i * interval_s, rtt_s=rtt, ttl=64, **extra))
    return tuple(probes)


def rtt_measurement(
    rng: np.random.Generator,
    started_at: datetime,
    n: int,
    *,
    agent_id: str = "agent-a",
    target: str = "198.18.0.1",
    collector: str = "icmp",
    status: Status = Status.OK,
    **kwargs: float,
) -> Measurement:
    interval = float(kwargs.get("interval_s", 0.02))
    probes = rtt_probes(rng, n, **kwargs) if n else ()
    return measurement(
        agent_id=agent_id,
        collector=collector,
        target=target,
        started_at=started_at,
        duration_s=n * interval,
        status=status,
        result=rtt_result(probes, interval_s=interval),
        params={"count": n, "interval": interval},
    )


def failed_rtt(
    started_at: datetime,
    *,
    count: int,
    status: Status = Status.TIMEOUT,
    with_probes: bool = True,
    agent_id: str = "agent-a",
    target: str = "198.18.0.1",
    collector: str = "icmp",
) -> Measurement:
    """A failed attempt: every probe lost (or no probe rows at all)."""
    probes = (
        tuple(ProbeSample(seq=i, send_offset_s=i * 0.02, rtt_s=None) for i in range(count))
        if with_probes
        else ()
    )
    return measurement(
        agent_id=agent_id,
        collector=collector,
        target=target,
        started_at=started_at,
        status=status,
        error="no reply",
        result=rtt_result(probes),
        params={"count": count, "interval": 0.02},
    )


def throughput(
    started_at: datetime,
    goodput_bps: float | None,
    *,
    direction: str = "download",
    status: Status = Status.OK,
    agent_id: str = "agent-a",
    target: str = "198.18.0.2",
    collector: str = "http_download",
) -> Measurement:
    duration = 10.0
    total = 0 if goodput_bps is None else int(goodput_bps * duration / 8)
    intervals = (
        tuple(ThroughputInterval(0, float(i), 1.0, total // 10) for i in range(10))
        if goodput_bps is not None
        else ()
    )
    return measurement(
        agent_id=agent_id,
        collector=collector,
        target=target,
        started_at=started_at,
        duration_s=duration,
        status=status,
        result=throughput_result(
            total, goodput_bps, direction=direction, duration_s=duration, intervals=intervals
        ),
    )


def timing(
    started_at: datetime,
    total_s: float | None,
    *,
    status: Status = Status.OK,
    agent_id: str = "agent-a",
    target: str = "http://198.18.0.3/",
) -> Measurement:
    return measurement(
        agent_id=agent_id,
        collector="http",
        target=target,
        started_at=started_at,
        duration_s=total_s or 0.0,
        status=status,
        result=TimingResult(phases_s={"connect": 0.01, "total": total_s}, outcome="200"),
    )


def stream_series(
    rng: np.random.Generator,
    *,
    start: datetime = T0,
    count: int,
    every: timedelta,
    probes: int,
    **kwargs: float,
) -> list[Measurement]:
    """``count`` RTT measurements ``every`` apart, each with ``probes`` probes."""
    return [rtt_measurement(rng, start + i * every, probes, **kwargs) for i in range(count)]


def write_store(
    path: Path, measurements: Iterable[Measurement], timezones: dict[str, str] | None = None
) -> Path:
    with SqliteStore(path) as store:
        for agent, zone in (timezones or {}).items():
            store.register_agent(agent, timezone=zone)
        store.append_many(measurements)
    return path


def bnetza_campaign(
    speeds_bps: Sequence[float],
    *,
    days: Sequence[int] = (0, 2, 4),
    direction: str = "download",
    start: datetime = T0 + timedelta(hours=8),
) -> list[Measurement]:
    """30 tests, 10 on each of 3 days with ≥ 1 free day between, 20 min apart and a 3.5 h
    pause after the 5th test of each day (docs/methods.md §8.2)."""
    assert len(speeds_bps) == 10 * len(days)
    out = []
    it = iter(speeds_bps)
    for day in days:
        t = start + timedelta(days=day)
        for k in range(10):
            out.append(throughput(t, next(it), direction=direction))
            t += timedelta(hours=3.5) if k == 4 else timedelta(minutes=20)
    return out
