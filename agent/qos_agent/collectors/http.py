"""Collector ``http``: phases of one HTTP(S) GET — DNS, connect, TLS, TTFB, download, total.

Standard library only: the connection is built by hand (``getaddrinfo`` → ``connect`` →
TLS handshake → request) so that each phase is timed on the monotonic clock at its real
boundary, then :class:`http.client.HTTPResponse` parses the status line, headers and body
(chunked or length-delimited).  Phases (seconds, ``None`` when not reached or not
applicable):

* ``dns`` — name resolution (≈ 0 for an address literal);
* ``connect`` — TCP three-way handshake (≈ 1 RTT);
* ``tls`` — TLS handshake (``https`` only);
* ``ttfb`` — request sent → first response byte (server time + 1 RTT);
* ``download`` — first byte → last body byte;
* ``total`` — start → last body byte (what a user waits for).

The HTTP status code is the **outcome** (``"200"``, ``"404"`` …): a 5xx is a fact about the
server, the network delivered it.  Network failures become statuses: refused →
``unreachable``, nothing within ``timeout`` (one deadline for the whole GET) → ``timeout``
with the phases reached so far; TLS or protocol errors → ``error``.  No redirects are
followed; the body is read up to ``max_body`` bytes.
"""

from __future__ import annotations

import errno
import http.client
import io
import socket
import ssl
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from qos.records import Measurement, Status, TimingResult
from qos_agent.collectors.base import Collector, MeasureContext, ParamSpec
from qos_agent.net.sockets import first_address

_UNREACHABLE_ERRNOS = {
    errno.ECONNREFUSED,
    errno.EHOSTUNREACH,
    errno.ENETUNREACH,
    errno.ECONNRESET,
    errno.EADDRNOTAVAIL,
}
PHASES = ("dns", "connect", "tls", "ttfb", "download", "total")


class _Deadline(Exception):
    """The whole-GET deadline passed."""


class _PrefixedReader(io.RawIOBase):
    """The first response byte (already read to time TTFB), then the socket."""

    def __init__(self, prefix: bytes, sock: socket.socket, check: Callable[[], float]) -> None:
        self._prefix = prefix
        self._sock = sock
        self._check = check

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._prefix:
            n = min(len(buffer), len(self._prefix))
            buffer[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        self._sock.settimeout(self._check())
        return self._sock.recv_into(buffer)


class _SocketShim:
    """What :class:`http.client.HTTPResponse` needs from a socket: ``makefile``."""

    def __init__(self, reader: _PrefixedReader) -> None:
        self._reader = reader

    def makefile(self, mode: str, *args: Any, **kwargs: Any) -> io.BufferedReader:
        return io.BufferedReader(self._reader)


def split_url(target: str) -> tuple[str, str, int, str, str]:
    """``target`` → (scheme, host, port, path+query, Host header); ValueError if unusable."""
    url = target if "://" in target else f"http://{target}"
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"}:
        raise ValueError(f"unsupported scheme {parts.scheme!r} (http or https)")
    if not parts.hostname:
        raise ValueError(f"no host in {target!r}")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise ValueError(f"bad port in {target!r}: {exc}") from None
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, parts.hostname, port, path, parts.netloc.rpartition("@")[2]


class HttpCollector(Collector):
    name = "http"
    description = "HTTP(S) GET phases: DNS, connect, TLS, time to first byte, total"
    param_specs = (
        ParamSpec(
            "timeout", "duration", 10.0, "deadline for the whole GET", minimum=0.01, maximum=600
        ),
        ParamSpec("verify_tls", "bool", True, "verify the server certificate and name"),
        ParamSpec("ca_file", "str", "", "extra CA bundle (PEM) to trust, e.g. a lab CA"),
        ParamSpec(
            "max_body",
            "size",
            10_000_000,
            "read at most this many body bytes",
            minimum=0,
            maximum=10**10,
        ),
        ParamSpec("user_agent", "str", "qos-toolkit", "User-Agent header"),
    )

    def measure(
        self, target: str, params: Mapping[str, Any], context: MeasureContext
    ) -> Measurement:
        clock = context.clock
        attempt = self.begin(target, params, context)
        deadline_ns = attempt.start_ns + int(params["timeout"] * 1e9)
        phases: dict[str, float | None] = dict.fromkeys(PHASES)
        details: dict[str, Any] = {}

        def remaining() -> float:
            left = (deadline_ns - clock.monotonic_ns()) / 1e9
            if left <= 0:
                raise _Deadline
            return left

        def since(t_ns: int) -> float:
            return (clock.monotonic_ns() - t_ns) / 1e9

        def finish(status: Status, error: str | None, outcome: str | None = None) -> Measurement:
            result = TimingResult(phases_s=phases, outcome=outcome, details=details)
            return attempt.finish(status=status, result=result, error=error)

        try:
            scheme, host, port, path, host_header = split_url(target)
        except ValueError as exc:
            return finish(Status.ERROR, f"bad URL: {exc}")
        sock: socket.socket | None = None
        step = "dns"
        try:
            t = clock.monotonic_ns()
            family, sockaddr = first_address(host, port, socket.SOCK_STREAM)
            phases["dns"] = since(t)
            details["remote"] = f"{sockaddr[0]}:{sockaddr[1]}"
            step = "connect"
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.settimeout(remaining())
            t = clock.monotonic_ns()
            sock.connect(sockaddr)
            phases["connect"] = since(t)
            if scheme == "https":
                step = "tls"
                sock = tls = self._tls(sock, host, params)
                tls.settimeout(remaining())
                t = clock.monotonic_ns()
                tls.do_handshake()
                phases["tls"] = since(t)
                details["tls_version"] = tls.version()
            step = "ttfb"
            request = (
                f"GET {path} HTTP/1.1\r\nHost: {host_header}\r\n"
                f"User-Agent: {params['user_agent']}\r\nAccept: */*\r\n"
                "Accept-Encoding: identity\r\nConnection: close\r\n\r\n"
            ).encode("latin-1")
            sock.settimeout(remaining())
            sock.sendall(request)
            t_sent = clock.monotonic_ns()
            sock.settimeout(remaining())
            first = sock.recv(1)
            if not first:
                raise http.client.RemoteDisconnected("connection closed before any response")
            t_first = clock.monotonic_ns()
            phases["ttfb"] = (t_first - t_sent) / 1e9
            step = "download"
            # HTTPResponse only calls makefile() on its socket, which the shim provides (it
            # replays the bytes already read for the first-byte time); not a socket subclass.
            response = http.client.HTTPResponse(
                _SocketShim(_PrefixedReader(first, sock, remaining)),  # type: ignore[arg-type]
                method="GET",
            )
            response.begin()
            details.update(
                {
                    "status_code": response.status,
                    "reason": response.reason,
                    "http_version": f"{response.version / 10:.1f}",
                }
            )
            body = 0
            limit = params["max_body"]
            while body < limit:
                chunk = response.read(min(65536, limit - body))
                if not chunk:
                    break
                body += len(chunk)
            details["body_bytes"] = body
            details["body_truncated"] = body >= limit and bool(response.read(1))
            end = clock.monotonic_ns()
            phases["download"] = (end - t_first) / 1e9
            phases["total"] = (end - attempt.start_ns) / 1e9
            return finish(Status.OK, None, outcome=str(response.status))
        except (_Deadline, TimeoutError):
            return finish(
                Status.TIMEOUT, f"no progress within {params['timeout']:g} s (during {step})"
            )
        except socket.gaierror as exc:
            return finish(Status.ERROR, f"cannot resolve {host}: {exc.strerror or exc}")
        except ssl.CertificateError as exc:  # before SSLError: it is a subclass
            return finish(Status.ERROR, f"TLS certificate rejected: {exc}")
        except ssl.SSLError as exc:
            return finish(Status.ERROR, f"TLS failed: {exc.reason or exc}")
        except http.client.HTTPException as exc:
            return finish(
                Status.ERROR, f"bad HTTP response during {step}: {type(exc).__name__}: {exc}"
            )
        except OSError as exc:
            status = Status.UNREACHABLE if exc.errno in _UNREACHABLE_ERRNOS else Status.ERROR
            return finish(status, f"{step}: {exc.strerror or exc}")
        finally:
            if sock is not None:
                sock.close()

    @staticmethod
    def _tls(sock: socket.socket, host: str, params: Mapping[str, Any]) -> ssl.SSLSocket:
        context = ssl.create_default_context(cafile=params["ca_file"] or None)
        if params["ca_file"]:
            context.load_default_certs()
        if not params["verify_tls"]:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context.wrap_socket(sock, server_hostname=host, do_handshake_on_connect=False)
