"""Samples of the per-stream transport payload, every ``interval``, warm-up flagged.

Counting (BEREC BoR (17) 178 para 140, docs/methods.md §8.1): download counts every byte read
from the sockets; upload counts the bytes the server's TCP acknowledged (Linux
``TCP_INFO`` ``bytes_acked``), not the bytes handed to the kernel, which would overstate
the rate by the socket buffer.  Sample boundaries fall on every ``interval`` and exactly on
the end of the warm-up and of the test, so the warm-up (iperf3 ``--omit``) can be excluded
without splitting a sample.  A failing stream, ``max_bytes`` reached or an agent shutdown
wakes the sampler early; the last (short) sample is kept.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from qos_agent.net import tcpinfo
from qos_agent.net.clock import Clock
from qos_agent.throughput.transfer import StreamState

#: (monotonic time ns, within warm-up, per-stream transport payload so far)
Sample = tuple[int, bool, list[int]]


def transport_payload(s: StreamState, *, upload: bool) -> int:
    """Transport payload moved so far by stream ``s``."""
    if not upload:
        return s.received
    with s.lock:
        info = tcpinfo.read(s.sock) if s.sock is not None else None
        retired = sum(c.payload_acked() for c in s.retired)
        if info is None:
            return s.app_sent  # no TCP_INFO here: fall back to bytes handed to the kernel
        return retired + info.payload_acked()


def sample_boundaries(interval_ns: int, warmup_ns: int, end_ns: int) -> list[int]:
    """Offsets (ns after the start) of the sample ends: every interval, warm-up end, test end."""
    return sorted(
        {
            *range(interval_ns, warmup_ns, interval_ns),
            warmup_ns,
            *range(warmup_ns + interval_ns, end_ns, interval_ns),
            end_ns,
        }
        - {0}
    )


def sample(
    clock: Clock,
    streams: Sequence[StreamState],
    params: Mapping[str, Any],
    *,
    upload: bool,
    wake: threading.Event,
    agent_stop: threading.Event,
) -> tuple[int, list[Sample]]:
    """The start time (ns) and the samples until the end of the test (or an early wake)."""
    interval_ns = int(params["interval"] * 1e9)
    warmup_ns = int(params["warmup"] * 1e9)
    end_ns = warmup_ns + int(params["duration"] * 1e9)
    boundaries = sample_boundaries(interval_ns, warmup_ns, end_ns)
    t0 = clock.monotonic_ns()
    samples: list[Sample] = [(t0, True, [transport_payload(s, upload=upload) for s in streams])]
    for boundary in boundaries:
        while True:
            left = (t0 + boundary - clock.monotonic_ns()) / 1e9
            if left <= 0 or wake.is_set() or agent_stop.is_set():
                break
            wake.wait(left)
        now = clock.monotonic_ns()
        ended_early = now < t0 + boundary
        warm = now - t0 <= warmup_ns if ended_early else boundary <= warmup_ns
        samples.append((now, warm, [transport_payload(s, upload=upload) for s in streams]))
        if ended_early:
            break
    return t0, samples
