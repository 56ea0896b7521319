"""HTTP throughput collector: parallel TCP streams against the reference server.

Method (BEREC BoR (17) 178, docs/methods.md §8.1; SamKnows/FCC MBA practice): ``streams``
parallel HTTP/1.1 connections (default 4) move random bytes for a fixed time.  The first
``warmup`` seconds cover TCP slow start and are excluded; goodput is the transport payload
moved by all streams after the warm-up divided by the time actually measured.  Bytes are
sampled per stream every ``interval`` (default 100 ms) and every sample is kept as a
:class:`~qos.records.ThroughputInterval` (warm-up samples flagged), so stability and other
windows can be recomputed later.  Semantics follow iperf3: ``duration`` is the measured
period, ``warmup`` (iperf3 ``--omit``) comes on top.

Counting ("transport payload", BEREC para 140): download counts every byte read from the
sockets (response heads included, a few hundred bytes per GB); upload counts the bytes the
server's TCP acknowledged (Linux ``TCP_INFO`` ``bytes_acked``), not the bytes handed to the
kernel, which would overstate the rate by the socket buffer.  ``bytes_total`` includes the
warm-up (it is what a data budget pays for); ``details`` adds the retransmission counters
(RFC 6349 TCP efficiency, docs/methods.md §6.10) and an on-the-wire estimate.

Faults: a stream that gets no data for ``timeout`` (server stalled) ends the test with status
``timeout``; a reset, an early close, a non-200 reply or garbage instead of HTTP end it with
``error``; a refused connection is ``unreachable``.  The record keeps the intervals measured
so far and the reason.  The test never runs past connect ``timeout`` + ``warmup`` +
``duration`` + about a second: at the deadline every socket is shut down, which unblocks
any worker.  ``max_bytes`` bounds the bytes of one test (mobile plans pay per byte).

This module is the collector (parameters, one run's orchestration, the record); the engine
lives in :mod:`qos_agent.throughput` (``transfer``: per-stream workers, ``sampler``:
per-interval counters, ``result``: goodput and status) and the wire format in
:mod:`qos_agent.net.http_wire`.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from typing import Any

from qos.records import Measurement, Status, ThroughputInterval, ThroughputResult
from qos_agent.collectors.base import Collector, MeasureContext, ParamSpec
from qos_agent.collectors.shared_params import DIRECTION, SAMPLE_INTERVAL
from qos_agent.net.http_wire import parse_base_url
from qos_agent.throughput.result import assemble
from qos_agent.throughput.sampler import Sample, sample
from qos_agent.throughput.transfer import Transfer, make_streams


class HttpThroughputCollector(Collector):
    """Goodput with N parallel HTTP streams to a reference server (``@reference/http``)."""

    name = "http_throughput"
    description = "HTTP download/upload goodput, N parallel streams, warm-up excluded (BEREC)"
    heavy = True
    param_specs = (
        DIRECTION,
        ParamSpec("streams", "int", 4, "parallel TCP connections", minimum=1, maximum=64),
        ParamSpec(
            "duration",
            "duration",
            8.0,
            "measured period after the warm-up",
            minimum=0.1,
            maximum=300,
        ),
        ParamSpec(
            "warmup",
            "duration",
            2.0,
            "initial period excluded (TCP slow start)",
            minimum=0.0,
            maximum=60,
        ),
        SAMPLE_INTERVAL,
        ParamSpec(
            "timeout",
            "duration",
            5.0,
            "connect timeout, and longest silence before a stream counts as stalled",
            minimum=0.05,
            maximum=60,
        ),
        ParamSpec(
            "request_size",
            "size",
            1_000_000_000,
            "bytes per HTTP request (a stream issues requests back to back)",
            minimum=1,
            maximum=1 << 30,
        ),
        ParamSpec(
            "max_bytes",
            "size",
            0,
            "stop after this many body bytes in total (0: no limit, time-bound only)",
            minimum=0,
            maximum=1e13,
        ),
    )

    def measure(
        self, target: str, params: Mapping[str, Any], context: MeasureContext
    ) -> Measurement:
        return _Run(self, target, params, context).execute()


class _Run:
    """One measurement: connect, run workers, sample, shut down, assemble the record."""

    def __init__(
        self,
        collector: HttpThroughputCollector,
        target: str,
        params: Mapping[str, Any],
        context: MeasureContext,
    ) -> None:
        self.target = target
        self.params = params
        self.context = context
        self.clock = context.clock
        self.attempt = collector.begin(target, params, context)
        self.upload = params["direction"] == "upload"
        self.streams = make_streams(params["streams"], int(params["max_bytes"]))
        self.transfer = Transfer(self.streams, params, upload=self.upload)

    # top level -------------------------------------------------------------------------
    def execute(self) -> Measurement:
        try:
            base = parse_base_url(self.target)
            infos = socket.getaddrinfo(base.host, base.port, type=socket.SOCK_STREAM)
        except ValueError as exc:
            return self._record(Status.ERROR, str(exc), [], None)
        except (socket.gaierror, UnicodeError) as exc:
            return self._record(
                Status.UNREACHABLE, f"cannot resolve {self.target!r}: {exc}", [], None
            )
        family, _, _, _, sockaddr = infos[0]
        header_overhead = 72 if family == socket.AF_INET6 else 52  # IP + TCP w/ timestamps

        self.transfer.start(base, family, sockaddr)
        connect_deadline = (
            self.clock.monotonic_ns() + int(self.params["timeout"] * 1e9) + 200_000_000
        )
        connected = self._wait_connected(connect_deadline)
        t0 = 0  # no samples without a connection, so no offsets to compute
        samples: list[Sample] = []
        if connected:
            self.transfer.go.set()
            t0, samples = sample(
                self.clock,
                self.streams,
                self.params,
                upload=self.upload,
                wake=self.transfer.wake,
                agent_stop=self.context.stop,
            )
        final = self.transfer.shutdown()
        outcome = assemble(
            samples,
            final,
            t0=t0,
            streams=self.streams,
            params=self.params,
            upload=self.upload,
            base=base,
            header_overhead=header_overhead,
            agent_stop=self.context.stop,
            connected=connected,
        )
        return self._record(outcome.status, outcome.error, outcome.intervals, outcome.result)

    def _wait_connected(self, deadline_ns: int) -> bool:
        ready = self.transfer.ready
        while True:
            if any(s.failure for s in self.streams):
                return False
            if all(s.sock is not None for s in self.streams):
                return True
            left = (deadline_ns - self.clock.monotonic_ns()) / 1e9
            if left <= 0 or self.context.stop.is_set():
                for s in self.streams:
                    if s.sock is None and s.failure is None:
                        s.failure = (Status.TIMEOUT, "connect timed out")
                return False
            ready.wait(min(left, 0.05))
            ready.clear()

    def _record(
        self,
        status: Status,
        error: str | None,
        intervals: list[ThroughputInterval],
        result: ThroughputResult | None,
    ) -> Measurement:
        if result is None:
            result = ThroughputResult(
                direction=self.params["direction"],
                streams=len(self.streams),
                duration_s=0.0,
                warmup_s=self.params["warmup"],
                bytes_total=0,
                goodput_bps=None,
                intervals=tuple(intervals),
            )
        return self.attempt.finish(status, result, error)
