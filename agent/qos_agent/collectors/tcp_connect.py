"""TCP-connect latency collector: time of the three-way handshake.

Unprivileged latency where ICMP is not allowed: the interval between ``connect()`` and the
socket becoming writable is one SYN → SYN/ACK round trip plus the local stack's handling
(comparable to RFC 2681 round-trip delay with the server's kernel as responder).  Probes
leave on a fixed schedule like the ICMP stream; several handshakes may be in flight.  A
refused connection (RST) is recorded with its reason and makes the target ``unreachable``;
silence is ``timeout``.  The connection is closed right after it is established; no
payload is sent.
"""

from __future__ import annotations

import contextlib
import errno
import os
import selectors
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from qos.records import Measurement, ProbeSample, RttResult, Status
from qos_agent.collectors.base import Collector, MeasureContext, ParamSpec
from qos_agent.net.sockets import first_address
from qos_agent.net.targets import split_host_port

_REFUSED = {
    errno.ECONNREFUSED,
    errno.EHOSTUNREACH,
    errno.ENETUNREACH,
    errno.EADDRNOTAVAIL,
    errno.ECONNRESET,
}


@dataclass
class _Attempt:
    seq: int
    sock: socket.socket | None
    started_ns: int
    rtt_ns: int | None = None
    error: str | None = None
    done: bool = False


class TcpConnectCollector(Collector):
    """Handshake time to HOST:PORT, a stream of ``count`` connects every ``interval``."""

    name = "tcp_connect"
    description = "TCP three-way-handshake time to HOST:PORT (unprivileged latency)"
    param_specs = (
        ParamSpec("count", "int", 5, "number of connection attempts", minimum=1, maximum=10_000),
        ParamSpec(
            "interval", "duration", 0.2, "time between attempts", minimum=0.001, maximum=3600
        ),
        ParamSpec("timeout", "duration", 2.0, "wait for each handshake", minimum=0.001, maximum=60),
    )

    def measure(
        self, target: str, params: Mapping[str, Any], context: MeasureContext
    ) -> Measurement:
        clock = context.clock
        attempt = self.begin(target, params, context)
        interval_ns = int(params["interval"] * 1e9)
        timeout_ns = int(params["timeout"] * 1e9)

        def finish(
            status: Status,
            error: str | None,
            probes: tuple[ProbeSample, ...],
            details: Mapping[str, Any] | None = None,
        ) -> Measurement:
            result = RttResult(
                probes=probes,
                interval_s=params["interval"],
                timeout_s=params["timeout"],
                details=details or {},
            )
            return attempt.finish(status=status, result=result, error=error)

        try:
            host, port = split_host_port(target)
        except ValueError as exc:
            return finish(Status.ERROR, str(exc), ())
        try:
            family, sockaddr = first_address(host, port, socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            lost = tuple(
                ProbeSample(seq=i, send_offset_s=i * params["interval"], rtt_s=None)
                for i in range(params["count"])
            )
            return finish(Status.UNREACHABLE, f"cannot resolve {host!r}: {exc}", lost)

        selector = selectors.DefaultSelector()
        attempts: list[_Attempt] = []
        t0 = clock.monotonic_ns()
        try:
            while True:
                now = clock.monotonic_ns()
                if len(attempts) < params["count"] and not context.stop.is_set():
                    due = t0 + len(attempts) * interval_ns
                    if now >= due:
                        attempts.append(
                            self._start(family, sockaddr, len(attempts), clock, selector)
                        )
                        continue
                    wait_ns = due - now
                else:
                    pending = [a for a in attempts if not a.done]
                    if not pending:
                        break
                    wait_ns = min(a.started_ns + timeout_ns for a in pending) - now
                for key, _ in selector.select(max(0.0, wait_ns / 1e9)):
                    self._complete(key.data, clock.monotonic_ns(), selector)
                now = clock.monotonic_ns()
                for a in attempts:
                    if not a.done and now - a.started_ns >= timeout_ns:
                        a.error = "timed out"
                        self._close(a, selector)
        finally:
            for a in attempts:
                self._close(a, selector)
            selector.close()

        probes = tuple(
            ProbeSample(
                seq=a.seq,
                send_offset_s=(a.started_ns - t0) / 1e9,
                rtt_s=None if a.rtt_ns is None else a.rtt_ns / 1e9,
            )
            for a in attempts
        )
        errors = [a.error for a in attempts if a.error]
        details = {"address": sockaddr[0], "port": port, "errors": sorted(set(errors))}
        if any(p.rtt_s is not None for p in probes):
            return finish(Status.OK, None, probes, details)
        if not attempts:
            return finish(Status.ERROR, "stopped before the first attempt", probes, details)
        reason = errors[0] if errors else "no handshake completed"
        status = Status.TIMEOUT if all(e == "timed out" for e in errors) else Status.UNREACHABLE
        return finish(status, f"{sockaddr[0]} port {port}: {reason}", probes, details)

    @staticmethod
    def _start(
        family: int, sockaddr: Any, seq: int, clock: Any, selector: selectors.BaseSelector
    ) -> _Attempt:
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
        started = clock.monotonic_ns()
        attempt = _Attempt(seq=seq, sock=sock, started_ns=started)
        code = sock.connect_ex(sockaddr)
        if code in (0, errno.EINPROGRESS):
            if code == 0:  # completed synchronously (rare, loopback)
                attempt.rtt_ns = clock.monotonic_ns() - started
                attempt.done = True
                sock.close()
                attempt.sock = None
            else:
                selector.register(sock, selectors.EVENT_WRITE, attempt)
        else:
            attempt.error = os.strerror(code)
            attempt.done = True
            sock.close()
            attempt.sock = None
        return attempt

    @staticmethod
    def _complete(attempt: _Attempt, now_ns: int, selector: selectors.BaseSelector) -> None:
        sock = attempt.sock
        if sock is None or attempt.done:
            return
        code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code == 0:
            attempt.rtt_ns = now_ns - attempt.started_ns
        else:
            attempt.error = os.strerror(code) if code in _REFUSED or code else "failed"
        TcpConnectCollector._close(attempt, selector)

    @staticmethod
    def _close(attempt: _Attempt, selector: selectors.BaseSelector) -> None:
        attempt.done = True
        if attempt.sock is not None:
            with contextlib.suppress(KeyError, ValueError):
                selector.unregister(attempt.sock)
            attempt.sock.close()
            attempt.sock = None
