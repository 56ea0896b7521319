"""iperf3 collector: throughput against a stock ``iperf3 -s`` with our own client.

Speaks the iperf3 control protocol natively (:mod:`qos_agent.iperf3`, docs/methods.md §12.6),
so no iperf3 binary is needed on the measuring device.  TCP or UDP, forward (we send:
``upload``) or reverse (the server sends: ``download``), 1–128 parallel streams, a warm-up
(``omit``) excluded from the figures as BEREC/SamKnows exclude TCP slow start.

What the record holds (ThroughputResult):

* per-stream intervals measured on **our** side every ``interval``: received bytes when
  downloading, bytes the receiver acknowledged (``tcpi_bytes_acked``) when uploading TCP,
  bytes sent when uploading UDP — warm-up intervals flagged ``warmup``;
* ``goodput_bps`` — transport payload delivered in the measured window (BEREC BoR (17) 178):
  from our samples, except UDP upload, where only the server knows what arrived, so the
  server-reported received bytes over its receive time are used (``details.goodput_source``);
* ``bytes_total`` — every payload byte this test moved, warm-up included (for byte budgets);
* UDP: the server's (upload) or our (download) loss counts and RFC 3550 jitter — the
  receiver's estimator with gain 1/16 as iperf3 reports it (docs/methods.md §6.1, §12.5).

A busy server (ACCESS_DENIED: stock servers run one test at a time) is retried with
exponential backoff and jitter, a bounded number of times, inside the test's deadline; if it
stays busy the record is ``error`` with reason "server busy …".  A server that stalls,
resets or sends garbage mid-test gives an ``error`` record that keeps the intervals measured
so far.  Every wait is bounded, so the test never runs past its deadline.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Mapping
from typing import Any

from qos.errors import ParameterError
from qos.metrics import jitter_mean_abs_diff_s
from qos.records import Measurement, Status, ThroughputInterval, ThroughputResult
from qos_agent.collectors.base import Collector, MeasureContext, ParamSpec
from qos_agent.iperf3.client import Iperf3Client, TestOutcome, receiver_jitter_s
from qos_agent.net import iperf3_wire as protocol
from qos_agent.net.targets import split_host_port

_KIND_STATUS = {"unreachable": Status.UNREACHABLE, "timeout": Status.TIMEOUT}
_MAX_BACKOFF_S = 60.0
_UDP_DEFAULT_RATE_BPS = 1_000_000  # iperf3's UDP default


def split_target(target: str) -> tuple[str, int]:
    """``HOST``, ``HOST:PORT`` or ``[V6]:PORT`` → (host, port); the port defaults to 5201."""
    return split_host_port(target, protocol.DEFAULT_PORT)


def _whole_seconds(name: str, value: float) -> int:
    if not math.isclose(value, round(value), abs_tol=1e-9):
        raise ParameterError(
            f"parameter '{name}' must be whole seconds for the iperf3 protocol, got {value:g} s"
        )
    return round(value)


class Iperf3Collector(Collector):
    """Native iperf3-protocol client (TCP/UDP, forward/reverse, parallel streams)."""

    name = "iperf3"
    description = "throughput against an iperf3 server, native protocol (TCP/UDP, reverse)"
    heavy = True
    param_specs = (
        ParamSpec(
            "protocol", "str", "tcp", "transport of the data streams", choices=("tcp", "udp")
        ),
        ParamSpec("reverse", "bool", False, "server sends (download) instead of us (upload)"),
        ParamSpec("streams", "int", 1, "parallel streams", minimum=1, maximum=protocol.MAX_STREAMS),
        ParamSpec(
            "duration", "duration", 10, "measured time, whole seconds", minimum=1, maximum=3600
        ),
        ParamSpec(
            "omit",
            "duration",
            2,
            "warm-up excluded from the figures (slow start), whole seconds",
            minimum=0,
            maximum=60,
        ),
        ParamSpec(
            "rate",
            "rate",
            None,
            "target rate per stream (UDP default 1 Mbit/s, TCP default unlimited)",
            minimum=0,
            maximum=100e9,
        ),
        ParamSpec(
            "length",
            "size",
            0,
            "bytes per write / datagram payload (0: 128 KiB TCP, 1460 B UDP)",
            minimum=0,
            maximum=protocol.MAX_TCP_LENGTH,
        ),
        ParamSpec(
            "interval",
            "duration",
            0.1,
            "sampling interval of our per-stream counters",
            minimum=0.01,
            maximum=10,
        ),
        ParamSpec(
            "timeout",
            "duration",
            10,
            "longest silence or stall tolerated",
            minimum=0.5,
            maximum=120,
        ),
        ParamSpec(
            "busy_retries",
            "int",
            3,
            "retries when the server is busy (ACCESS_DENIED)",
            minimum=0,
            maximum=10,
        ),
        ParamSpec(
            "busy_backoff",
            "duration",
            2,
            "first wait before retrying a busy server; doubles each retry, with jitter",
            minimum=0.05,
            maximum=_MAX_BACKOFF_S,
        ),
        ParamSpec("udp_64bit_counters", "bool", False, "ask for 64-bit UDP packet counters"),
        ParamSpec(
            "congestion",
            "str",
            "",
            "TCP congestion control for both ends, e.g. cubic (iperf3 -C; default: each "
            "host's own)",
        ),
    )

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random()

    def resolve(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        """Each parameter, then their combination (:meth:`spec_from`), so that a config
        ``check-config`` accepts cannot fail on its parameters when the job runs."""
        params = super().resolve(raw)
        self.spec_from(params)
        return params

    def spec_from(self, params: Mapping[str, Any]) -> protocol.TestSpec:
        """The protocol-level request for resolved ``params`` (bad combinations raise)."""
        udp = params["protocol"] == "udp"
        rate = params["rate"]
        if rate is None:
            rate = _UDP_DEFAULT_RATE_BPS if udp else 0
        length = params["length"] or (
            protocol.DEFAULT_UDP_LENGTH if udp else protocol.DEFAULT_TCP_LENGTH
        )
        try:
            return protocol.TestSpec(
                protocol=params["protocol"],
                reverse=params["reverse"],
                streams=params["streams"],
                duration_s=_whole_seconds("duration", params["duration"]),
                omit_s=_whole_seconds("omit", params["omit"]),
                length=length,
                rate_bps=round(rate),
                udp_counters_64bit=params["udp_64bit_counters"],
                congestion=params["congestion"],
            )
        except ValueError as exc:
            raise ParameterError(str(exc)) from None

    def measure(
        self, target: str, params: Mapping[str, Any], context: MeasureContext
    ) -> Measurement:
        clock = context.clock
        attempt = self.begin(target, params, context)
        spec = self.spec_from(params)
        try:
            host, port = split_target(target)
        except ValueError as exc:
            return attempt.finish(status=Status.ERROR, error=str(exc))
        io_timeout = params["timeout"]
        retries = params["busy_retries"]
        backoffs = [
            min(_MAX_BACKOFF_S, params["busy_backoff"] * 2**k) * 1.5 for k in range(retries)
        ]
        budget_s = spec.omit_s + spec.duration_s + 3 * io_timeout + sum(backoffs)
        deadline_ns = attempt.start_ns + int(budget_s * 1e9)
        client = Iperf3Client(
            host,
            port,
            io_timeout_s=io_timeout,
            interval_s=params["interval"],
            monotonic_ns=clock.monotonic_ns,
            stop=context.stop,
        )
        waits: list[float] = []
        tries = 0
        while True:
            tries += 1
            outcome = client.run(spec, deadline_ns)
            if outcome.error_kind != "busy" or tries > retries or context.stop.is_set():
                break
            wait = min(_MAX_BACKOFF_S, params["busy_backoff"] * 2 ** (tries - 1))
            wait *= self._rng.uniform(0.5, 1.5)  # de-synchronise agents sharing a server
            if (deadline_ns - clock.monotonic_ns()) / 1e9 < wait + spec.duration_s:
                break
            waits.append(wait)
            if context.stop.wait(wait):
                break
        result = build_result(
            spec, outcome, host=host, port=port, attempts=tries, busy_waits_s=waits
        )
        if outcome.ok:
            status, error = Status.OK, None
        elif outcome.error_kind == "busy":
            status = Status.ERROR
            error = (
                f"server busy: {host}:{port} answered ACCESS_DENIED to "
                f"{tries} attempt{'s' if tries > 1 else ''}"
            )
        else:
            status = _KIND_STATUS.get(outcome.error_kind or "", Status.ERROR)
            error = outcome.error
        return attempt.finish(status=status, result=result, error=error)


def _intervals(spec: protocol.TestSpec, outcome: TestOutcome) -> list[ThroughputInterval]:
    out = []
    for before, after in zip(outcome.samples, outcome.samples[1:], strict=False):
        warmup = after.tick_s <= spec.omit_s + 1e-9 and spec.omit_s > 0
        for index, (a, b) in enumerate(zip(before.delivered, after.delivered, strict=True)):
            out.append(
                ThroughputInterval(
                    stream=index,
                    start_offset_s=before.t_s,
                    duration_s=after.t_s - before.t_s,
                    bytes=b - a,
                    warmup=warmup,
                )
            )
    return out


def _window(spec: protocol.TestSpec, outcome: TestOutcome) -> tuple[float, int] | None:
    """(seconds, bytes) delivered after the warm-up, from our samples; None if not reached."""
    samples = outcome.samples
    start = next((s for s in samples if s.tick_s >= spec.omit_s - 1e-9), None) if samples else None
    if start is None or samples[-1] is start:
        return None
    end = samples[-1]
    return end.t_s - start.t_s, sum(end.delivered) - sum(start.delivered)


def build_result(
    spec: protocol.TestSpec,
    outcome: TestOutcome,
    *,
    host: str,
    port: int,
    attempts: int,
    busy_waits_s: list[float],
) -> ThroughputResult:
    """Turn one attempt's outcome (complete or partial) into the record's result."""
    details: dict[str, Any] = {
        "protocol": spec.protocol,
        "server": host,
        "port": port,
        "length_bytes": spec.length,
        "rate_bps_per_stream": spec.rate_bps or None,
        "attempts": attempts,
        "busy_waits_s": busy_waits_s,
        "phase_reached": outcome.phase,
    }
    if spec.congestion:
        details["congestion"] = spec.congestion
    if outcome.server_results is not None and outcome.server_results.congestion_used:
        details["server_congestion_used"] = outcome.server_results.congestion_used
    window = _window(spec, outcome)
    goodput = None
    seconds = float(spec.duration_s)
    if window is not None:
        seconds, measured = window
        details["bytes_measured"] = measured
        goodput = measured * 8 / seconds if seconds > 0 else None
        details["goodput_source"] = "client"
    server = outcome.server_results
    if server is not None and server.streams:
        server_bytes = sum(s.bytes for s in server.streams)
        times = [
            s.end_time_s - s.start_time_s
            for s in server.streams
            if s.end_time_s is not None and s.start_time_s is not None
        ]
        details["server_bytes"] = server_bytes
        if times and max(times) > 0:
            details["server_rate_bps"] = server_bytes * 8 / max(times)
        if spec.protocol == "udp" and not spec.reverse and "server_rate_bps" in details:
            goodput = details["server_rate_bps"]
            details["goodput_source"] = "server"
    _transport_details(spec, outcome, details)
    if not outcome.ok:
        details["partial_goodput_bps"] = goodput
        goodput = None
    total = sum(s.bytes for s in outcome.streams)
    return ThroughputResult(
        direction="download" if spec.reverse else "upload",
        streams=spec.streams,
        duration_s=seconds,
        warmup_s=float(spec.omit_s),
        bytes_total=total,
        goodput_bps=goodput,
        intervals=tuple(_intervals(spec, outcome)),
        details=details,
    )


def _transport_details(
    spec: protocol.TestSpec, outcome: TestOutcome, details: dict[str, Any]
) -> None:
    server = outcome.server_results
    if spec.protocol == "tcp":
        if not spec.reverse and outcome.retrans_at_end and outcome.retrans_at_omit:
            pairs = zip(outcome.retrans_at_end, outcome.retrans_at_omit, strict=True)
            if all(e is not None and o is not None for e, o in pairs):
                details["retransmits"] = sum(
                    e - o
                    for e, o in zip(outcome.retrans_at_end, outcome.retrans_at_omit, strict=True)
                    if e is not None and o is not None
                )
        if outcome.rtt_s and None not in outcome.rtt_s:
            details["tcp_rtt_s"] = list(outcome.rtt_s)
            details["tcp_min_rtt_s"] = list(outcome.min_rtt_s)
        if spec.reverse and server is not None:
            retrans = [s.retransmits for s in server.streams]
            if retrans and None not in retrans:
                details["retransmits"] = sum(r for r in retrans if r is not None)
        return
    # UDP: loss and jitter as the receiver counted them (docs/methods.md §6.1, §12.5)
    if not spec.reverse:
        details["udp_packets_sent"] = sum(s.packets for s in outcome.streams)
        if server is None:
            return
        lost = sum(s.errors for s in server.streams)
        packets = sum(s.packets for s in server.streams)
        jitters = [s.jitter_s for s in server.streams]
        details["loss_source"] = "server"
    else:
        lost = sum(s.lost for s in outcome.streams)
        packets = sum(s.packets for s in outcome.streams)
        jitters = [j for j in (receiver_jitter_s(s) for s in outcome.streams) if j is not None]
        diffs = [
            d
            for d in (
                jitter_mean_abs_diff_s(s.transits_s[s.omit_transit_index :])
                for s in outcome.streams
            )
            if d is not None
        ]
        # RFC 3393 §4.5 mean |IPDV| of consecutive datagrams (arrival order), after warm-up:
        # the same input as the RFC 3550 filter, without its exponential forgetting
        details["jitter_mean_abs_diff_s"] = statistics.fmean(diffs) if diffs else None
        details["loss_source"] = "client"
        details["udp_packets_received"] = sum(s.received_packets for s in outcome.streams)
        details["udp_out_of_order"] = sum(s.out_of_order for s in outcome.streams)
        if server is not None:
            sent = sum(s.packets for s in server.streams)
            details["udp_packets_sent"] = sent
    details["udp_lost_packets"] = lost
    details["udp_packets"] = packets
    details["loss_ratio"] = lost / packets if packets > 0 else None
    details["loss_scope"] = "whole test including warm-up (iperf3 counters are cumulative)"
    details["jitter_rfc3550_s_per_stream"] = jitters
    details["jitter_rfc3550_s"] = statistics.fmean(jitters) if jitters else None
    details["jitter_scope"] = "after warm-up, receiver's RFC 3550 estimator, mean over streams"
