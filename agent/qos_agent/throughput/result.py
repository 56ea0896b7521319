"""Samples and TCP counters of one test → goodput, status and the throughput record.

Goodput (BEREC BoR (17) 178, docs/methods.md §8.1) is the transport payload moved by all
streams after the warm-up divided by the time actually measured; every sample is kept as a
:class:`~qos.records.ThroughputInterval` (warm-up samples flagged) so other windows can be
recomputed later.  ``bytes_total`` includes the warm-up (what a data budget pays for);
``details`` adds the retransmission counters (RFC 6349 §4.2 TCP efficiency, docs/methods.md
§6.10) and an on-the-wire estimate.  A failed, stalled or interrupted test keeps its
intervals and reports the rate measured so far only as ``partial_goodput_bps``.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from qos.records import Status, ThroughputInterval, ThroughputResult
from qos_agent.net.http_wire import BaseUrl
from qos_agent.net.tcpinfo import TcpInfo
from qos_agent.throughput.sampler import Sample
from qos_agent.throughput.transfer import StreamState


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the collector records: status, error text, samples and the result."""

    status: Status
    error: str | None
    intervals: list[ThroughputInterval]
    result: ThroughputResult


def assemble(
    samples: Sequence[Sample],
    final: Sequence[TcpInfo],
    *,
    t0: int,
    streams: Sequence[StreamState],
    params: Mapping[str, Any],
    upload: bool,
    base: BaseUrl,
    header_overhead: int,
    agent_stop: threading.Event,
    connected: bool,
) -> Outcome:
    """Intervals, goodput, byte counts, details and the status of one finished test."""
    intervals: list[ThroughputInterval] = []
    measured_bytes = 0
    warm_end_ns: int | None = samples[0][0] if samples and params["warmup"] == 0 else None
    last_ns: int | None = None
    for (t_prev, _, c_prev), (t_now, warm, c_now) in itertools.pairwise(samples):
        for i in range(len(streams)):
            moved = c_now[i] - c_prev[i]
            intervals.append(
                ThroughputInterval(
                    stream=i,
                    start_offset_s=(t_prev - t0) / 1e9,
                    duration_s=(t_now - t_prev) / 1e9,
                    bytes=moved,
                    warmup=warm,
                )
            )
            if not warm:
                measured_bytes += moved
        if warm:
            warm_end_ns = t_now
        elif warm_end_ns is not None:
            last_ns = t_now
    measured_s = (last_ns - warm_end_ns) / 1e9 if last_ns and warm_end_ns else 0.0
    rate = measured_bytes * 8 / measured_s if measured_s > 0 else None

    if upload:
        acked = sum(c.payload_acked() for c in final)
        bytes_total = acked if final else sum(s.app_sent for s in streams)
    else:
        bytes_total = sum(s.received for s in streams)
    details: dict[str, Any] = {
        "url": f"http://{base.host_header}{base.path_prefix}",
        "counting": (
            "tcp_info bytes_acked"
            if upload and final
            else "bytes handed to the kernel"
            if upload
            else "bytes read"
        ),
        "measured_bytes": measured_bytes,
        "http_head_bytes": sum(s.head_bytes for s in streams),
        "body_bytes": sum(s.body_bytes for s in streams),
        "requests": sum(s.requests for s in streams),
        "stopped_by": "duration",
    }
    if upload:
        details["server_confirmed_bytes"] = sum(s.confirmed for s in streams)
    if final:
        wire_payload = sum((c.bytes_sent or 0) if upload else c.bytes_received for c in final)
        segments = sum(c.segs_in + c.segs_out for c in final)
        details.update(
            {
                "tcp_total_retrans": sum(c.total_retrans for c in final),
                "tcp_bytes_retrans": sum(c.bytes_retrans or 0 for c in final),
                "bytes_on_wire_estimate": wire_payload + segments * header_overhead,
            }
        )

    failures = [s.failure for s in streams if s.failure]
    if not failures and not agent_stop.is_set():
        failures = silent_streams(streams, intervals, timeout_s=params["timeout"])
    status, error = Status.OK, None
    if failures:
        status, error = failures[0]
        details["stopped_by"] = "failure"
    elif agent_stop.is_set():
        status, error = Status.ERROR, "stopped by agent shutdown before the end of the test"
        details["stopped_by"] = "shutdown"
    elif all(s.finished for s in streams):
        details["stopped_by"] = "max_bytes"
        if rate is None:
            status, error = (
                Status.ERROR,
                "max_bytes reached within the warm-up: nothing left to measure",
            )
    if status is not Status.OK and rate is not None:
        details["partial_goodput_bps"] = rate
        rate = None
    if not connected and status is Status.OK:  # pragma: no cover - defensive
        status, error = Status.ERROR, "streams did not connect"
    result = ThroughputResult(
        direction=params["direction"],
        streams=len(streams),
        duration_s=measured_s,
        warmup_s=params["warmup"],
        bytes_total=bytes_total,
        goodput_bps=rate,
        intervals=tuple(intervals),
        details=details,
    )
    return Outcome(status, error, intervals, result)


def silent_streams(
    streams: Sequence[StreamState], intervals: Sequence[ThroughputInterval], *, timeout_s: float
) -> list[tuple[Status, str]]:
    """Streams that moved nothing for at least ``timeout`` up to the end of the test.

    A stall shorter than the socket timeout ends no worker, but one that lasts until the
    deadline is still a stall, not a slow link, and must not yield an ``ok`` record.
    """
    found = []
    for s in streams:
        if s.finished:
            continue
        silent = 0.0
        for iv in reversed([iv for iv in intervals if iv.stream == s.index]):
            if iv.bytes:
                break
            silent += iv.duration_s
        if silent >= timeout_s:
            reason = f"server stalled: no data for the last {silent:.1f} s of the test"
            found.append((Status.TIMEOUT, f"stream {s.index}: {reason}"))
    return found
