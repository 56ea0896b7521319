"""HTTP throughput collector: parallel TCP streams against the reference server (issue 5, item 2).

Method (BEREC BoR (17) 178, STANDARDS.md §8.1; SamKnows/FCC MBA practice): ``streams``
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
(RFC 6349 TCP efficiency, STANDARDS.md §6.10) and an on-the-wire estimate.

Faults: a stream that gets no data for ``timeout`` (server stalled) ends the test with status
``timeout``; a reset, an early close, a non-200 reply or garbage instead of HTTP end it with
``error``; a refused connection is ``unreachable``.  The record keeps the intervals measured
so far and the reason.  The test never runs past connect ``timeout`` + ``warmup`` +
``duration`` + about a second: at the deadline every socket is shut down, which unblocks
any worker.  ``max_bytes`` bounds the bytes of one test (mobile plans pay per byte).
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from qos.records import Measurement, Status, ThroughputInterval, ThroughputResult
from qos_agent.collectors.base import Collector, MeasureContext, ParamSpec
from qos_agent.refserver.wire import (
    ProtocolError,
    ResponseHead,
    TcpCounters,
    parse_base_url,
    read_response_head,
    request_head,
    tcp_info,
)

_RECV_BUFFER_BYTES = 1 << 20
_SEND_CHUNK_BYTES = 1 << 20
_UPLOAD_PATTERN_BYTES = 4 << 20
_MAX_REPLY_BODY_BYTES = 4096
_JOIN_GRACE_S = 1.0


@dataclass
class _Stream:
    """One connection's state; counters are written by its worker, read by the sampler."""

    index: int
    sock: socket.socket | None = None
    received: int = 0  # download: every byte read from the socket(s)
    app_sent: int = 0  # upload: bytes handed to the kernel (heads + bodies)
    head_bytes: int = 0  # HTTP heads (request heads for upload, response heads for download)
    body_bytes: int = 0  # download: body bytes read; upload: body bytes handed to the kernel
    confirmed: int = 0  # upload: bytes the server said it received
    requests: int = 0
    share_left: int | None = None  # bytes still allowed by max_bytes (None: unlimited)
    failure: tuple[Status, str] | None = None
    finished: bool = False
    retired: list[TcpCounters] = field(default_factory=list)  # counters of closed sockets
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Failure(Exception):
    def __init__(self, status: Status, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class HttpThroughputCollector(Collector):
    """Goodput with N parallel HTTP streams to a reference server (``@reference/http``)."""

    name = "http_throughput"
    description = "HTTP download/upload goodput, N parallel streams, warm-up excluded (BEREC)"
    heavy = True
    param_specs = (
        ParamSpec(
            "direction", "str", "download", "download or upload", choices=("download", "upload")
        ),
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
        ParamSpec(
            "interval",
            "duration",
            0.1,
            "sampling interval of the stored samples",
            minimum=0.01,
            maximum=10,
        ),
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
        self.collector = collector
        self.target = target
        self.params = params
        self.context = context
        self.clock = context.clock
        self.started_at = self.clock.wall()
        self.start_ns = self.clock.monotonic_ns()
        self.upload = params["direction"] == "upload"
        self.ready = threading.Event()  # a worker connected or failed to
        self.go = threading.Event()  # all connected: start transferring
        self.stop = threading.Event()  # end of test: workers return
        self.wake = threading.Event()  # a worker failed or all finished: sampler wakes up
        self.streams = [_Stream(index=i) for i in range(params["streams"])]
        self._pattern = memoryview(os.urandom(_UPLOAD_PATTERN_BYTES)) if self.upload else None
        max_bytes = int(params["max_bytes"])
        if max_bytes:
            share, extra = divmod(max_bytes, len(self.streams))
            for s in self.streams:
                s.share_left = share + (1 if s.index < extra else 0)

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
        self.base = base
        self.header_overhead = 72 if family == socket.AF_INET6 else 52  # IP + TCP w/ timestamps

        workers = [
            threading.Thread(
                target=self._worker,
                args=(s, family, sockaddr),
                name=f"qos-http-{s.index}",
                daemon=True,
            )
            for s in self.streams
        ]
        for w in workers:
            w.start()
        connect_deadline = (
            self.clock.monotonic_ns() + int(self.params["timeout"] * 1e9) + 200_000_000
        )
        connected = self._wait_connected(connect_deadline)
        samples: list[tuple[int, bool, list[int]]] = []
        if connected:
            self.go.set()
            samples = self._sample()
        final = self._shutdown(workers)
        return self._assemble(samples, final, connected)

    def _wait_connected(self, deadline_ns: int) -> bool:
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
            self.ready.wait(min(left, 0.05))
            self.ready.clear()

    # sampling --------------------------------------------------------------------------
    def _counter(self, s: _Stream) -> int:
        """Transport payload moved so far by stream ``s``."""
        if not self.upload:
            return s.received
        with s.lock:
            info = tcp_info(s.sock) if s.sock is not None else None
            retired = sum(c.bytes_acked for c in s.retired)
            if info is None:
                return s.app_sent  # no TCP_INFO here: fall back to bytes handed to the kernel
            return retired + info.bytes_acked

    def _sample(self) -> list[tuple[int, bool, list[int]]]:
        """Samples (time ns, within warm-up, per-stream counters) until the end of the test."""
        p = self.params
        interval_ns = int(p["interval"] * 1e9)
        warmup_ns = int(p["warmup"] * 1e9)
        end_ns = warmup_ns + int(p["duration"] * 1e9)
        boundaries = sorted(
            {
                *range(interval_ns, warmup_ns, interval_ns),
                warmup_ns,
                *range(warmup_ns + interval_ns, end_ns, interval_ns),
                end_ns,
            }
            - {0}
        )
        t0 = self.clock.monotonic_ns()
        self.t0 = t0
        samples = [(t0, True, [self._counter(s) for s in self.streams])]
        for boundary in boundaries:
            while True:
                left = (t0 + boundary - self.clock.monotonic_ns()) / 1e9
                if left <= 0 or self.wake.is_set() or self.context.stop.is_set():
                    break
                self.wake.wait(left)
            now = self.clock.monotonic_ns()
            ended_early = now < t0 + boundary
            warm = now - t0 <= warmup_ns if ended_early else boundary <= warmup_ns
            samples.append((now, warm, [self._counter(s) for s in self.streams]))
            if ended_early:
                break
        return samples

    # workers ---------------------------------------------------------------------------
    def _worker(self, s: _Stream, family: int, sockaddr: Any) -> None:
        try:
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.settimeout(self.params["timeout"])
            try:
                sock.connect(sockaddr)
            except BaseException:
                sock.close()
                raise
            with s.lock:
                s.sock = sock
            self.ready.set()
            self.go.wait()
            if self.stop.is_set():
                return
            while not self.stop.is_set():
                size = self.params["request_size"]
                if s.share_left is not None:
                    size = min(size, s.share_left)
                if size <= 0:
                    s.finished = True
                    if all(x.finished for x in self.streams):
                        self.wake.set()
                    return
                if self.upload:
                    self._upload_once(s, size)
                else:
                    self._download_once(s, size)
                if s.share_left is not None:
                    s.share_left -= size
        except _Failure as exc:
            self._fail(s, exc.status, exc.reason)
        except TimeoutError:
            if s.sock is None:
                self._fail(s, Status.TIMEOUT, "connect timed out")
            else:
                what = "sending" if self.upload else "data"
                self._fail(
                    s,
                    Status.TIMEOUT,
                    f"server stalled: no progress {what} for {self.params['timeout']:g} s",
                )
        except ProtocolError as exc:
            self._fail(s, Status.ERROR, f"invalid reply from server: {exc}")
        except (ConnectionRefusedError, socket.gaierror) as exc:
            self._fail(s, Status.UNREACHABLE, f"connect failed: {exc}")
        except ConnectionResetError:
            self._fail(s, Status.ERROR, "connection reset by server")
        except OSError as exc:
            if s.sock is None and not self.stop.is_set():
                self._fail(s, Status.UNREACHABLE, f"connect failed: {exc}")
            else:
                self._fail(s, Status.ERROR, f"connection failed: {exc}")

    def _fail(self, s: _Stream, status: Status, reason: str) -> None:
        if self.stop.is_set():
            return  # errors caused by our own shutdown at the deadline are not failures
        s.failure = (status, f"stream {s.index}: {reason}")
        self.ready.set()
        self.wake.set()

    def _recv(self, s: _Stream, n: int) -> bytes:
        assert s.sock is not None
        data = s.sock.recv(n)
        s.received += len(data)
        return data

    def _reply_head(self, s: _Stream, pending: bytearray) -> ResponseHead:
        head = read_response_head(lambda n: self._recv(s, n), pending)
        if not self.upload:  # heads in the measured direction only (they are in bytes_total)
            s.head_bytes += head.head_bytes
        if head.status != 200:
            raise _Failure(Status.ERROR, f"server replied {head.status} {head.reason}".strip())
        if head.content_length is None:
            raise ProtocolError("reply has no Content-Length")
        return head

    def _download_once(self, s: _Stream, size: int) -> None:
        assert s.sock is not None
        path = f"{self.base.path_prefix}/download?bytes={size}"
        s.sock.sendall(request_head("GET", path, self.base.host_header))
        s.requests += 1
        pending = bytearray()
        head = self._reply_head(s, pending)
        if head.content_length != size:
            raise ProtocolError(f"asked for {size} bytes, reply announces {head.content_length}")
        if len(pending) > size:
            raise ProtocolError("server sent more bytes than its Content-Length")
        s.body_bytes += len(pending)
        left = size - len(pending)
        buffer = bytearray(min(_RECV_BUFFER_BYTES, max(1, left)))
        view = memoryview(buffer)
        sock = s.sock
        while left > 0:
            if self.stop.is_set():
                return
            n = sock.recv_into(view[: min(len(view), left)])
            if n == 0:
                if self.stop.is_set():
                    return
                raise _Failure(
                    Status.ERROR,
                    f"connection closed by server after {size - left} of {size} body bytes",
                )
            s.received += n
            s.body_bytes += n
            left -= n
        if not head.keep_alive:
            self._reconnect(s)

    def _upload_once(self, s: _Stream, size: int) -> None:
        assert s.sock is not None and self._pattern is not None
        sock = s.sock
        head = request_head(
            "POST", f"{self.base.path_prefix}/upload", self.base.host_header, content_length=size
        )
        sock.sendall(head)
        s.app_sent += len(head)
        s.head_bytes += len(head)
        s.requests += 1
        pattern = self._pattern
        offset = 0
        left = size
        while left > 0:
            if self.stop.is_set():
                return
            chunk = min(_SEND_CHUNK_BYTES, left, len(pattern) - offset)
            n = sock.send(pattern[offset : offset + chunk])
            s.app_sent += n
            s.body_bytes += n
            left -= n
            offset = (offset + n) % len(pattern)
        pending = bytearray()
        reply = self._reply_head(s, pending)
        length = reply.content_length or 0
        if length > _MAX_REPLY_BODY_BYTES:
            raise ProtocolError(f"upload reply body of {length} bytes is too large")
        while len(pending) < length:
            chunk_bytes = self._recv(s, length - len(pending))
            if not chunk_bytes:
                raise _Failure(Status.ERROR, "connection closed by server inside its reply")
            pending += chunk_bytes
        try:
            confirmed = int(json.loads(bytes(pending[:length]))["bytes_received"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ProtocolError(f'upload reply is not {{"bytes_received": n}}: {exc}') from None
        s.confirmed += confirmed
        if confirmed != size:
            raise _Failure(Status.ERROR, f"server confirmed {confirmed} of {size} bytes")
        if not reply.keep_alive:
            self._reconnect(s)

    def _reconnect(self, s: _Stream) -> None:
        """The server closed the connection after a reply: open a new one (counters kept)."""
        old = s.sock
        assert old is not None
        new = socket.create_connection(
            (self.base.host, self.base.port), timeout=self.params["timeout"]
        )
        with s.lock:
            info = tcp_info(old)
            if info is not None:
                s.retired.append(info)
            s.sock = new
        old.close()

    # end of test -----------------------------------------------------------------------
    def _shutdown(self, workers: list[threading.Thread]) -> list[TcpCounters]:
        """Stop workers, read final TCP counters, abort the connections; never blocks long."""
        self.stop.set()
        self.go.set()
        final: list[TcpCounters] = []
        for s in self.streams:
            with s.lock:
                final.extend(s.retired)
                sock = s.sock
                if sock is None:
                    continue
                info = tcp_info(sock)
                if info is not None:
                    final.append(info)
                try:
                    # RST instead of flushing the send queue: no traffic after the deadline
                    sock.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                    )
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        for w in workers:
            w.join(timeout=_JOIN_GRACE_S)
        for s in self.streams:
            if s.sock is not None:
                s.sock.close()
        return final

    def _assemble(
        self, samples: list[tuple[int, bool, list[int]]], final: list[TcpCounters], connected: bool
    ) -> Measurement:
        intervals: list[ThroughputInterval] = []
        measured_bytes = 0
        warm_end_ns: int | None = samples[0][0] if samples and self.params["warmup"] == 0 else None
        last_ns: int | None = None
        for (t_prev, _, c_prev), (t_now, warm, c_now) in itertools.pairwise(samples):
            for i in range(len(self.streams)):
                moved = c_now[i] - c_prev[i]
                intervals.append(
                    ThroughputInterval(
                        stream=i,
                        start_offset_s=(t_prev - self.t0) / 1e9,
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

        if self.upload:
            acked = sum(c.bytes_acked for c in final)
            bytes_total = acked if final else sum(s.app_sent for s in self.streams)
        else:
            bytes_total = sum(s.received for s in self.streams)
        details: dict[str, Any] = {
            "url": f"http://{self.base.host_header}{self.base.path_prefix}",
            "counting": (
                "tcp_info bytes_acked"
                if self.upload and final
                else "bytes handed to the kernel"
                if self.upload
                else "bytes read"
            ),
            "measured_bytes": measured_bytes,
            "http_head_bytes": sum(s.head_bytes for s in self.streams),
            "body_bytes": sum(s.body_bytes for s in self.streams),
            "requests": sum(s.requests for s in self.streams),
            "stopped_by": "duration",
        }
        if self.upload:
            details["server_confirmed_bytes"] = sum(s.confirmed for s in self.streams)
        if final:
            wire_payload = sum(
                (c.bytes_sent or 0) if self.upload else c.bytes_received for c in final
            )
            segments = sum(c.segs_in + c.segs_out for c in final)
            details.update(
                {
                    "tcp_total_retrans": sum(c.total_retrans for c in final),
                    "tcp_bytes_retrans": sum(c.bytes_retrans or 0 for c in final),
                    "bytes_on_wire_estimate": wire_payload + segments * self.header_overhead,
                }
            )

        failures = [s.failure for s in self.streams if s.failure]
        if not failures and not self.context.stop.is_set():
            failures = self._silent_streams(intervals)
        status, error = Status.OK, None
        if failures:
            status, error = failures[0]
            details["stopped_by"] = "failure"
        elif self.context.stop.is_set():
            status, error = Status.ERROR, "stopped by agent shutdown before the end of the test"
            details["stopped_by"] = "shutdown"
        elif all(s.finished for s in self.streams):
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
            direction=self.params["direction"],
            streams=len(self.streams),
            duration_s=measured_s,
            warmup_s=self.params["warmup"],
            bytes_total=bytes_total,
            goodput_bps=rate,
            intervals=tuple(intervals),
            details=details,
        )
        return self._record(status, error, intervals, result)

    def _silent_streams(self, intervals: list[ThroughputInterval]) -> list[tuple[Status, str]]:
        """Streams that moved nothing for at least ``timeout`` up to the end of the test.

        A stall shorter than the socket timeout ends no worker, but one that lasts until the
        deadline is still a stall, not a slow link, and must not yield an ``ok`` record.
        """
        found = []
        for s in self.streams:
            if s.finished:
                continue
            silent = 0.0
            for iv in reversed([iv for iv in intervals if iv.stream == s.index]):
                if iv.bytes:
                    break
                silent += iv.duration_s
            if silent >= self.params["timeout"]:
                reason = f"server stalled: no data for the last {silent:.1f} s of the test"
                found.append((Status.TIMEOUT, f"stream {s.index}: {reason}"))
        return found

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
