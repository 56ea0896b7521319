"""A native iperf3 client: one test against a stock ``iperf3 -s`` (docs/methods.md §12.5, §12.6).

Flow (``iperf_client_api.c``): control connection + cookie → the server asks for
parameters (PARAM_EXCHANGE) → CREATE_STREAMS (TCP: connect and send the cookie; UDP: the
connect datagram and its reply) → TEST_START → TEST_RUNNING: data flows for ``omit +
time`` seconds → the client sends TEST_END → EXCHANGE_RESULTS (we send ours, then read the
server's) → DISPLAY_RESULTS → the client sends IPERF_DONE.

What we measure ourselves, on our side of the path, every ``interval``: bytes *delivered*
per stream — received bytes when we receive (reverse), bytes the receiver acknowledged
(``tcpi_bytes_acked``) when we send TCP, bytes sent when we send UDP (the server's count of
what arrived comes back in its results).  Every blocking step is bounded by the I/O timeout
and an absolute deadline, so a silent or stalled server cannot hang the agent; on any
failure the samples taken so far are kept and the server is told CLIENT_TERMINATE.
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from qos.metrics import jitter_rfc3550_s
from qos_agent.iperf3.streams import StreamState, run_worker
from qos_agent.net import iperf3_wire as protocol
from qos_agent.net import tcpinfo
from qos_agent.net.iperf3_wire import ProtocolError, Results, State, StreamReport, TestSpec
from qos_agent.net.sockets import first_address

#: what we announce as ``client_version`` (the server only logs it)
CLIENT_VERSION = "3.12"
_SYN_AND_COOKIE = 1 + protocol.COOKIE_SIZE  # tcpi_bytes_acked counts the SYN and the cookie
_UDP_CONNECT_TRIES = 3
_TCP_CONGESTION = getattr(socket, "TCP_CONGESTION", 13)


class TestFailed(Exception):
    """The test could not be completed; ``kind`` is busy, unreachable, timeout or error."""

    def __init__(self, message: str, kind: str = "error") -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True, slots=True)
class Sample:
    """Delivered bytes per stream at ``t_s`` seconds after TEST_RUNNING (due at ``tick_s``)."""

    t_s: float
    delivered: tuple[int, ...]
    tick_s: float = 0.0


@dataclass
class TestOutcome:
    """Everything one attempt produced — complete or partial."""

    spec: TestSpec
    error: str | None = None
    error_kind: str | None = None  # busy | unreachable | timeout | error
    phase: str = "connect"
    samples: list[Sample] = field(default_factory=list)
    streams: list[StreamState] = field(default_factory=list)
    #: raw per-stream counters (bytes sent/received) at the end of warm-up and at the end
    raw_at_omit: tuple[int, ...] | None = None
    raw_at_end: tuple[int, ...] | None = None
    retrans_at_omit: tuple[int | None, ...] | None = None
    retrans_at_end: tuple[int | None, ...] | None = None
    rtt_s: tuple[float | None, ...] = ()
    min_rtt_s: tuple[float | None, ...] = ()
    local_results: Results | None = None
    server_results: Results | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class _Deadline:
    def __init__(self, monotonic_ns: Callable[[], int], deadline_ns: int, io_timeout_s: float):
        self.monotonic_ns = monotonic_ns
        self.deadline_ns = deadline_ns
        self.io_timeout_s = io_timeout_s

    def remaining_s(self) -> float:
        return (self.deadline_ns - self.monotonic_ns()) / 1e9

    def timeout(self, what: str) -> float:
        remaining = self.remaining_s()
        if remaining <= 0:
            raise TestFailed(f"deadline exceeded while {what}", "timeout")
        return min(self.io_timeout_s, remaining)


class Iperf3Client:
    """Runs tests against one server; all outside-world access is injectable."""

    def __init__(
        self,
        host: str,
        port: int = protocol.DEFAULT_PORT,
        *,
        io_timeout_s: float = 10.0,
        interval_s: float = 0.1,
        monotonic_ns: Callable[[], int] = time.monotonic_ns,
        stop: threading.Event | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.io_timeout_s = io_timeout_s
        self.interval_s = interval_s
        self.monotonic_ns = monotonic_ns
        self.stop = stop or threading.Event()

    # --- public ------------------------------------------------------------------------
    def run(self, spec: TestSpec, deadline_ns: int) -> TestOutcome:
        """One attempt; never raises for network trouble (the outcome carries the error)."""
        outcome = TestOutcome(spec=spec)
        clock = _Deadline(self.monotonic_ns, deadline_ns, self.io_timeout_s)
        ctrl: socket.socket | None = None
        finished = threading.Event()
        try:
            ctrl = self._connect_control(clock)
            self._negotiate(ctrl, spec, clock, outcome, finished)
        except TestFailed as exc:
            outcome.error, outcome.error_kind = str(exc), exc.kind
        except ProtocolError as exc:
            outcome.error, outcome.error_kind = f"protocol error: {exc}", "error"
        except OSError as exc:
            outcome.error = f"{outcome.phase}: {exc.strerror or exc}"
            outcome.error_kind = "error"
        finally:
            finished.set()
            for stream in outcome.streams:
                if stream.thread is not None:
                    stream.thread.join(timeout=1.0)  # workers poll every 0.2 s
            if ctrl is not None:
                if outcome.error is not None and outcome.error_kind != "busy":
                    _best_effort_send(ctrl, protocol.encode_state(State.CLIENT_TERMINATE))
                ctrl.close()
            for stream in outcome.streams:
                stream.sock.close()
        return outcome

    # --- phases --------------------------------------------------------------------------
    def _connect_control(self, clock: _Deadline) -> socket.socket:
        try:
            ctrl = socket.create_connection(
                (self.host, self.port), timeout=clock.timeout("connecting")
            )
        except TimeoutError:
            raise TestFailed(
                f"no answer from {self.host}:{self.port} within {self.io_timeout_s:g} s", "timeout"
            ) from None
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise TestFailed(
                f"cannot connect to {self.host}:{self.port}: {reason}", "unreachable"
            ) from None
        ctrl.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return ctrl

    def _negotiate(
        self,
        ctrl: socket.socket,
        spec: TestSpec,
        clock: _Deadline,
        outcome: TestOutcome,
        finished: threading.Event,
    ) -> None:
        cookie = protocol.make_cookie()
        outcome.phase = "sending the cookie"
        ctrl.settimeout(clock.timeout(outcome.phase))
        ctrl.sendall(cookie)
        outcome.phase = "waiting for PARAM_EXCHANGE"
        self._expect(ctrl, State.PARAM_EXCHANGE, clock, outcome.phase)
        outcome.phase = "sending parameters"
        ctrl.sendall(protocol.encode_json(protocol.parameters(spec, CLIENT_VERSION)))
        outcome.phase = "waiting for CREATE_STREAMS"
        self._expect(ctrl, State.CREATE_STREAMS, clock, outcome.phase)
        outcome.phase = "creating streams"
        for index, iperf_id in enumerate(protocol.stream_ids(spec.streams)):
            sock = self._open_stream(spec, cookie, clock, ctrl)
            outcome.streams.append(
                StreamState(index=index, iperf_id=iperf_id, sock=sock, sender=not spec.reverse)
            )
        outcome.phase = "waiting for TEST_START"
        self._expect(ctrl, State.TEST_START, clock, outcome.phase)
        outcome.phase = "waiting for TEST_RUNNING"
        self._expect(ctrl, State.TEST_RUNNING, clock, outcome.phase)
        outcome.phase = "running"
        self._run_streams(ctrl, spec, clock, outcome, finished)
        outcome.phase = "ending the test"
        ctrl.settimeout(clock.timeout(outcome.phase))
        ctrl.sendall(protocol.encode_state(State.TEST_END))
        outcome.phase = "waiting for EXCHANGE_RESULTS"
        self._expect(ctrl, State.EXCHANGE_RESULTS, clock, outcome.phase)
        outcome.phase = "exchanging results"
        assert outcome.local_results is not None
        ctrl.settimeout(clock.timeout(outcome.phase))
        ctrl.sendall(protocol.encode_json(outcome.local_results.as_json()))
        outcome.server_results = protocol.parse_results(self._read_json(ctrl, clock))
        outcome.phase = "waiting for DISPLAY_RESULTS"
        self._expect(ctrl, State.DISPLAY_RESULTS, clock, outcome.phase)
        outcome.phase = "done"
        _best_effort_send(ctrl, protocol.encode_state(State.IPERF_DONE))

    def _open_stream(
        self, spec: TestSpec, cookie: bytes, clock: _Deadline, ctrl: socket.socket
    ) -> socket.socket:
        if spec.protocol == "tcp":
            sock = socket.create_connection(
                (self.host, self.port), timeout=clock.timeout("connecting a data stream")
            )
            if spec.congestion:
                try:
                    sock.setsockopt(socket.IPPROTO_TCP, _TCP_CONGESTION, spec.congestion.encode())
                except OSError as exc:
                    sock.close()
                    raise TestFailed(
                        f"cannot use TCP congestion control {spec.congestion!r}: "
                        f"{exc.strerror or exc}"
                    ) from None
            sock.sendall(cookie)
            return sock
        family, address = first_address(self.host, self.port, socket.SOCK_DGRAM)
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            with contextlib.suppress(OSError):  # room for bursts while Python is descheduled
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            sock.connect(address)
            if self._udp_hello(sock, clock, ctrl):
                return sock
            raise TestFailed(
                "the server did not answer the UDP stream setup "
                f"({_UDP_CONNECT_TRIES} tries; UDP blocked?)",
                "timeout",
            )
        except BaseException:
            sock.close()
            raise

    def _udp_hello(self, sock: socket.socket, clock: _Deadline, ctrl: socket.socket) -> bool:
        """Send the connect datagram, resending if it is lost (a lossy path drops it too).

        iperf3 3.12 sends it once and hangs when it is lost.  If instead the server's *reply*
        was lost, the server has already bound the stream to us: a repeated datagram then
        reaches that stream (at worst counted as one packet out of order) and no reply comes.
        For the last stream the server then says TEST_START on the control connection, which
        is taken as the acceptance (left unread for :meth:`_expect`).  A lost reply for an earlier
        stream of a multi-stream test still fails the setup.
        """
        per_try = min(1.0, self.io_timeout_s)
        for _ in range(_UDP_CONNECT_TRIES):
            sock.send(protocol.UDP_CONNECT_MSG)
            until = self.monotonic_ns() + int(min(per_try, clock.timeout("UDP setup")) * 1e9)
            while (left := (until - self.monotonic_ns()) / 1e9) > 0:
                readable, _, _ = select.select([sock, ctrl], [], [], left)
                if sock in readable and sock.recv(65536)[:4] in protocol.UDP_CONNECT_REPLIES:
                    return True
                if ctrl in readable:
                    return True  # the server moved on (or failed: _expect will say which)
        return False

    def _run_streams(
        self,
        ctrl: socket.socket,
        spec: TestSpec,
        clock: _Deadline,
        outcome: TestOutcome,
        finished: threading.Event,
    ) -> None:
        end_of_test = threading.Event()
        streams = outcome.streams
        use_tcpinfo = spec.protocol == "tcp" and not spec.reverse
        cpu_start = os.times()
        start_ns = self.monotonic_ns()
        infos = [tcpinfo.read(s.sock) if use_tcpinfo else None for s in streams]
        acked_base = [i.bytes_acked if i is not None else _SYN_AND_COOKIE for i in infos]
        outcome.samples.append(Sample(0.0, tuple(0 for _ in streams)))
        for stream in streams:
            stream.thread = run_worker(
                stream,
                protocol_name=spec.protocol,
                length=spec.length,
                rate_bps=spec.rate_bps,
                counters_64bit=spec.udp_counters_64bit,
                done=end_of_test if stream.sender else finished,
                monotonic_ns=self.monotonic_ns,
            )
        total = spec.omit_s + spec.duration_s
        last_change = [start_ns] * len(streams)
        try:
            for tick in _ticks(self.interval_s, spec.omit_s, total):
                self._wait_until(ctrl, start_ns + int(tick * 1e9), clock, streams)
                now = self.monotonic_ns()
                infos = [tcpinfo.read(s.sock) if use_tcpinfo else None for s in streams]
                delivered = tuple(
                    max(0, info.bytes_acked - base) if info is not None else s.bytes
                    for s, info, base in zip(streams, infos, acked_base, strict=True)
                )
                previous = outcome.samples[-1].delivered
                for i, (new, old) in enumerate(zip(delivered, previous, strict=True)):
                    if new != old:
                        last_change[i] = now
                    elif (now - last_change[i]) / 1e9 >= self.io_timeout_s:
                        raise TestFailed(
                            f"stream {i} stalled: no data for {self.io_timeout_s:g} s", "timeout"
                        )
                outcome.samples.append(Sample((now - start_ns) / 1e9, delivered, tick))
                raw = tuple(s.bytes for s in streams)
                retrans = tuple(i.total_retrans if i is not None else None for i in infos)
                if spec.omit_s and math.isclose(tick, spec.omit_s):
                    outcome.raw_at_omit, outcome.retrans_at_omit = raw, retrans
                    for s in streams:
                        s.omit_transit_index = len(s.transits_s)
                if math.isclose(tick, total):
                    outcome.raw_at_end, outcome.retrans_at_end = raw, retrans
                    outcome.rtt_s = tuple(i.rtt_s if i else None for i in infos)
                    outcome.min_rtt_s = tuple(i.min_rtt_s if i else None for i in infos)
        finally:
            end_of_test.set()
        if outcome.raw_at_omit is None:
            outcome.raw_at_omit = tuple(0 for _ in streams)
            outcome.retrans_at_omit = tuple(0 if use_tcpinfo else None for _ in streams)
        outcome.local_results = _local_results(
            spec, outcome, cpu_start, (self.monotonic_ns() - start_ns) / 1e9
        )

    # --- control-channel helpers ---------------------------------------------------------
    def _wait_until(
        self, ctrl: socket.socket, due_ns: int, clock: _Deadline, streams: list[StreamState]
    ) -> None:
        while True:
            if self.stop.is_set():
                raise TestFailed("stopped by the agent (shutdown) before the test ended")
            for stream in streams:
                if stream.error:
                    raise TestFailed(stream.error)
                if stream.closed_by_peer:
                    raise TestFailed(f"the server closed data stream {stream.index} mid-test")
            if clock.remaining_s() <= 0:
                raise TestFailed("deadline exceeded during the test", "timeout")
            wait = (due_ns - self.monotonic_ns()) / 1e9
            if wait <= 0:
                return
            readable, _, _ = select.select([ctrl], [], [], min(wait, 0.25))
            if readable:
                self._unexpected_control(ctrl, clock)

    def _unexpected_control(self, ctrl: socket.socket, clock: _Deadline) -> None:
        """The server spoke while the test was running: an error or it went away."""
        ctrl.settimeout(clock.timeout("reading the control connection"))
        raw = ctrl.recv(1)
        if not raw:
            raise TestFailed("the server closed the control connection mid-test")
        state = protocol.decode_state(raw)
        if state is State.SERVER_ERROR:
            raise TestFailed(self._server_error(ctrl, clock))
        if state in (State.SERVER_TERMINATE, State.ACCESS_DENIED):
            raise TestFailed(f"the server ended the test ({state.name})")
        raise ProtocolError(f"unexpected {state.name} while the test was running")

    def _expect(self, ctrl: socket.socket, wanted: State, clock: _Deadline, what: str) -> None:
        state = protocol.decode_state(self._recv_exact(ctrl, 1, clock, what))
        if state is wanted:
            return
        if state is State.ACCESS_DENIED:
            raise TestFailed("server busy (ACCESS_DENIED): it is running another test", "busy")
        if state is State.SERVER_ERROR:
            raise TestFailed(self._server_error(ctrl, clock))
        raise ProtocolError(f"expected {wanted.name}, got {state.name} while {what}")

    def _server_error(self, ctrl: socket.socket, clock: _Deadline) -> str:
        try:
            raw = self._recv_exact(ctrl, 8, clock, "reading the server error")
        except (TestFailed, OSError):
            return "server error (SERVER_ERROR, no error codes)"
        i_errno = int.from_bytes(raw[:4], "big", signed=True)
        sys_errno = int.from_bytes(raw[4:], "big", signed=True)
        text = os.strerror(sys_errno) if sys_errno > 0 else "no errno"
        return f"server error (SERVER_ERROR: iperf error {i_errno}, errno {sys_errno}: {text})"

    def _read_json(self, ctrl: socket.socket, clock: _Deadline) -> dict[str, object]:
        size = protocol.decode_length(self._recv_exact(ctrl, 4, clock, "reading results"))
        return protocol.decode_json(self._recv_exact(ctrl, size, clock, "reading results"))

    def _recv_exact(self, ctrl: socket.socket, size: int, clock: _Deadline, what: str) -> bytes:
        """Read exactly ``size`` bytes; the server may be silent for at most the I/O timeout."""
        chunks = bytearray()
        silent_s = 0.0
        while len(chunks) < size:
            if self.stop.is_set():
                raise TestFailed(f"stopped by the agent while {what}")
            step = min(clock.timeout(what), 0.5)
            ctrl.settimeout(step)
            try:
                chunk = ctrl.recv(size - len(chunks))
            except TimeoutError:
                silent_s += step
                if silent_s >= self.io_timeout_s:
                    raise TestFailed(
                        f"server silent for {self.io_timeout_s:g} s while {what}", "timeout"
                    ) from None
                continue
            except ConnectionResetError:
                raise TestFailed(f"the server reset the control connection while {what}") from None
            if not chunk:
                raise TestFailed(f"the server closed the control connection while {what}")
            chunks += chunk
            silent_s = 0.0
        return bytes(chunks)


def _ticks(interval_s: float, omit_s: int, total_s: int) -> list[float]:
    """Sample instants: every interval, plus exactly the end of warm-up and of the test."""
    steps = math.floor(total_s / interval_s + 1e-9)
    ticks = {round(k * interval_s, 9) for k in range(1, steps + 1)}
    ticks |= {float(total_s)} | ({float(omit_s)} if omit_s else set())
    return sorted(t for t in ticks if t <= total_s + 1e-9)


def _local_results(
    spec: TestSpec, outcome: TestOutcome, cpu_start: os.times_result, elapsed_s: float
) -> Results:
    """Our half of EXCHANGE_RESULTS, with iperf3's meanings (``send_results``)."""
    cpu_end = os.times()
    user = (cpu_end.user - cpu_start.user) / elapsed_s * 100 if elapsed_s > 0 else 0.0
    system = (cpu_end.system - cpu_start.system) / elapsed_s * 100 if elapsed_s > 0 else 0.0
    end = outcome.raw_at_end or tuple(s.bytes for s in outcome.streams)
    omit = outcome.raw_at_omit or tuple(0 for _ in outcome.streams)
    window = max(0.0, elapsed_s - spec.omit_s)
    reports = []
    for i, stream in enumerate(outcome.streams):
        retrans = None
        if stream.sender and outcome.retrans_at_end and outcome.retrans_at_omit:
            r_end, r_omit = outcome.retrans_at_end[i], outcome.retrans_at_omit[i]
            retrans = None if r_end is None or r_omit is None else r_end - r_omit
        reports.append(
            StreamReport(
                id=stream.iperf_id,
                bytes=end[i] - omit[i],
                retransmits=retrans,
                jitter_s=0.0 if stream.sender else (receiver_jitter_s(stream) or 0.0),
                errors=0 if stream.sender else stream.lost,
                packets=stream.packets,
                start_time_s=0.0,
                end_time_s=window,
            )
        )
    if spec.reverse:
        has_retransmits = -1
    elif spec.protocol == "tcp" and outcome.retrans_at_end and None not in outcome.retrans_at_end:
        has_retransmits = 1
    else:
        has_retransmits = 0
    return Results(
        cpu_util_total=user + system,
        cpu_util_user=user,
        cpu_util_system=system,
        sender_has_retransmits=has_retransmits,
        streams=tuple(reports),
    )


def receiver_jitter_s(stream: StreamState) -> float | None:
    """RFC 3550 jitter of the datagrams received after the warm-up (iperf3 resets it then)."""
    return jitter_rfc3550_s(stream.transits_s[stream.omit_transit_index :])


def _best_effort_send(sock: socket.socket, data: bytes) -> None:
    try:
        sock.setblocking(False)
        sock.send(data)
    except OSError as exc:
        if exc.errno not in (errno.EPIPE, errno.ECONNRESET, errno.EAGAIN, errno.EBADF):
            return
