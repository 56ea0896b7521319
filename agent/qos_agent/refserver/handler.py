"""Routes of the reference server (docs/methods.md §12.7).

=====================================  ==================================================
``GET /download?bytes=N``, ``/download/N``  N random bytes (``application/octet-stream``)
``POST /upload``                       discards the body, answers ``{"bytes_received": n}``
``GET /latency``                       a 4-byte ``pong`` (smallest useful HTTP exchange)
``GET /``, ``/speedtest/``             index page announcing ``upload_extension: "php"``
``GET /speedtest/speedtest-config.php``  speedtest.net-style config XML (also at ``/``)
``GET /speedtest/latency.txt``         ``test=test``
``GET /speedtest/random{N}x{N}.jpg``   random bytes of the Speedtest Mini file size
``POST /speedtest/upload.php``         discards the body, answers ``size=<n>``
``GET /speedtest/upload.php``          ``size=0`` (mini-server auto-detection)
=====================================  ==================================================

HTTP/1.1 with keep-alive, so a throughput client can issue request after request on one
connection without a new handshake (and slow start) each time.  Bodies must carry a
``Content-Length`` (no chunked uploads: the byte bound is checked before reading).
Every outcome is tallied in the server's :class:`~qos_agent.refserver.server.ServerStats`.
"""

from __future__ import annotations

import re
import socket
import sys
import time
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import parse_qs, urlsplit

from qos.text_safety import LOG_MESSAGE_LIMIT, neutralize
from qos_agent.net.http_wire import upload_reply_body
from qos_agent.refserver import speedtest_compat
from qos_agent.refserver.payload import TransferAborted

if TYPE_CHECKING:
    from qos_agent.refserver.server import ReferenceHttpServer

_UPLOAD_BUFFER_BYTES = 1 << 20
_SLASHES = re.compile(r"/{2,}")
#: longest decimal number accepted in a request (2**63 has 19 digits)
_MAX_DIGITS = 19


def ascii_uint(text: str) -> int | None:
    """A non-negative integer written with ASCII digits only, else None.

    ``str.isdigit`` is true for "²" and "١٢" and ``int`` accepts the latter: a size in
    a request must be ``1*DIGIT`` (RFC 9110 §8.6, RFC 5234 B.1: %x30-39) and nothing else.
    """
    if not text or len(text) > _MAX_DIGITS or not (text.isascii() and text.isdigit()):
        return None
    return int(text)


class HeadDeadlineReader:
    """The connection's reader with an overall deadline while a request head is read.

    While :attr:`deadline` is set, each read may wait only until the deadline (and at most
    the idle timeout); past it :class:`TimeoutError` ends the request, which
    ``BaseHTTPRequestHandler`` turns into closing the connection.  Lines are read byte by
    byte (the reader is unbuffered anyway), so the deadline is checked for every byte.
    """

    def __init__(self, raw: Any, sock: socket.socket, idle_s: float) -> None:
        self.raw = raw
        self.sock = sock
        self.idle_s = idle_s
        self.deadline: float | None = None

    def _arm(self) -> None:
        if self.deadline is None:
            return
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("request head not complete before its deadline")
        self.sock.settimeout(min(self.idle_s, remaining))

    def disarm(self) -> None:
        self.deadline = None
        self.sock.settimeout(self.idle_s)

    def readline(self, limit: int = -1) -> bytes:
        line = bytearray()
        while limit < 0 or len(line) < limit:
            self._arm()
            byte = self.raw.read(1)
            if not byte:
                break
            line += byte
            if byte == b"\n":
                break
        return bytes(line)

    def read(self, size: int = -1) -> bytes:
        self._arm()
        return bytes(self.raw.read(size) or b"")

    def readinto(self, buffer: Any) -> int | None:
        self._arm()
        return self.raw.readinto(buffer)

    def close(self) -> None:
        self.raw.close()


class ReferenceHandler(BaseHTTPRequestHandler):
    """One connection; ``handle()`` loops over keep-alive requests (BaseHTTPRequestHandler)."""

    protocol_version = "HTTP/1.1"
    # Unbuffered rfile: body bytes are read straight into our buffer with one recv each.  A
    # BufferedReader's readinto1 would, after copying buffered bytes, block in a second raw
    # read and lose the count of the copied bytes when that read times out.  Heads are
    # small, so reading them byte-wise costs a few hundred microseconds per request.
    rbufsize = 0
    server_version = "qos-refserver/1"
    sys_version = ""
    server: ReferenceHttpServer
    _upload_buffer: bytearray
    _GET_ROUTES: ClassVar[dict[str, str]] = {
        "/latency": "_latency",
        "/": "_index",
        "/speedtest": "_index",
        "/speedtest/latency.txt": "_speedtest_latency",
        "/speedtest/upload.php": "_speedtest_upload_probe",
        "/speedtest-config.php": "_speedtest_config",
        "/speedtest/speedtest-config.php": "_speedtest_config",
    }

    def setup(self) -> None:
        super().setup()
        # Idle limit for every socket op; it is the server's, so it is set on the socket here
        # rather than through the class-wide ``StreamRequestHandler.timeout``.
        idle_s = self.server.limits.io_timeout_s
        self.connection.settimeout(idle_s)
        # the deadline reader reads like the socket file it wraps
        reader = HeadDeadlineReader(self.rfile, self.connection, idle_s)
        self.rfile = reader  # type: ignore[assignment]
        self._upload_buffer = bytearray(_UPLOAD_BUFFER_BYTES)

    def handle_one_request(self) -> None:
        """One request; its request line and headers must arrive within ``header_timeout_s``
        of the start of reading (also when it is the next request on a kept-alive
        connection)."""
        reader = self.rfile
        assert isinstance(reader, HeadDeadlineReader)
        reader.deadline = time.monotonic() + self.server.limits.header_timeout_s
        try:
            super().handle_one_request()
        except ConnectionError:
            # The client reset or closed the connection (e.g. closing with our answer still
            # unread, which sends RST): nothing is left to answer, and it is not a fault.
            self.close_connection = True
        finally:
            reader.deadline = None

    def parse_request(self) -> bool:
        try:
            return super().parse_request()
        finally:  # the head is in: the body is bounded by the idle and request timeouts
            reader = self.rfile
            assert isinstance(reader, HeadDeadlineReader)
            reader.disarm()

    def log_message(self, format: str, *args: object) -> None:
        """Logged only with ``verbose``; neutralised, as request lines come from anyone."""
        if self.server.verbose:
            text = neutralize(format % args, max_length=LOG_MESSAGE_LIMIT)
            sys.stderr.write(f"{self.address_string()} - [{self.log_date_time_string()}] {text}\n")

    # routing ---------------------------------------------------------------------------
    def _path(self) -> tuple[str, dict[str, list[str]]]:
        parts = urlsplit(self.path)
        path = _SLASHES.sub("/", parts.path)
        if len(path) > 1:
            path = path.rstrip("/")
        return path, parse_qs(parts.query)

    def do_GET(self) -> None:
        self.server.stats.add(requests=1)
        path, query = self._path()
        if path == "/download" or path.startswith("/download/"):
            self._download(path, query)
        elif path.startswith("/speedtest/random"):
            size = speedtest_compat.jpeg_size(path.rsplit("/", 1)[1])
            if size is None:
                self._reply(404, b"unknown file\n")
            else:
                self._send_random(size, content_type="image/jpeg")
        elif path in self._GET_ROUTES:
            getattr(self, self._GET_ROUTES[path])()
        else:
            self._reply(404, b"not found\n")

    def do_POST(self) -> None:
        self.server.stats.add(requests=1)
        path, _ = self._path()
        if path == "/upload":
            received = self._sink()
            if received is not None:
                body = upload_reply_body(received)
                self._reply(200, body, content_type="application/json")
        elif path == "/speedtest/upload.php":
            received = self._sink()
            if received is not None:
                self._reply(200, f"size={received}".encode())
        else:
            self._reply(404, b"not found\n")

    def do_HEAD(self) -> None:
        self._reply(405, b"")

    # endpoints -------------------------------------------------------------------------
    def _latency(self) -> None:
        self._reply(200, b"pong")

    def _index(self) -> None:
        self._reply(200, speedtest_compat.INDEX_HTML, content_type="text/html")

    def _speedtest_latency(self) -> None:
        self._reply(200, speedtest_compat.LATENCY_BODY)

    def _speedtest_upload_probe(self) -> None:
        self._reply(200, b"size=0")

    def _speedtest_config(self) -> None:
        body = speedtest_compat.config_xml(
            client_ip=self.client_address[0],
            test_length_s=self.server.limits.speedtest_test_length_s,
        )
        self._reply(200, body, content_type="text/xml")

    def _download(self, path: str, query: dict[str, list[str]]) -> None:
        raw = path[len("/download/") :] if path.startswith("/download/") else None
        if raw is None:
            values = query.get("bytes", [])
            raw = values[0] if len(values) == 1 else None
        count = None if raw is None else ascii_uint(raw)
        if count is None:
            self._reply(400, b"use /download?bytes=N or /download/N (N a non-negative integer)\n")
            return
        if count > self.server.limits.max_request_bytes:
            self._reply(
                413, f"at most {self.server.limits.max_request_bytes} bytes per request\n".encode()
            )
            return
        self._send_random(count, content_type="application/octet-stream")

    def _send_random(self, count: int, *, content_type: str) -> None:
        try:
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(count))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
        except OSError as exc:
            self.close_connection = True
            self.log_message("reply failed: %s", exc)
            return
        deadline_ns = time.monotonic_ns() + int(self.server.limits.max_request_duration_s * 1e9)
        try:
            sent = self.server.payload.send(self.connection, count, deadline_ns=deadline_ns)
        except TransferAborted as exc:
            self.server.stats.add(bytes_sent=exc.transferred, aborted=1)
            self.close_connection = True
            self.log_message("download aborted after %d bytes: %s", exc.transferred, exc.reason)
            return
        self.server.stats.add(bytes_sent=sent, downloads=1)

    def _sink(self) -> int | None:
        """Read and discard the request body; None when the request was refused or aborted."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            self._reply(411, b"chunked bodies are not accepted; send Content-Length\n")
            return None
        length_text = self.headers.get("Content-Length")
        if length_text is None:
            self.close_connection = True
            self._reply(411, b"Content-Length required\n")
            return None
        length = ascii_uint(length_text.strip())
        if length is None:  # RFC 9112 §6.3: an invalid Content-Length is a 400
            self.close_connection = True
            self._reply(400, b"Content-Length must be ASCII digits\n")
            return None
        if length > self.server.limits.max_request_bytes:
            self.close_connection = True  # the unread body makes the connection unusable
            self._reply(
                413, f"at most {self.server.limits.max_request_bytes} bytes per request\n".encode()
            )
            return None
        deadline_ns = time.monotonic_ns() + int(self.server.limits.max_request_duration_s * 1e9)
        view = memoryview(self._upload_buffer)
        received = 0
        reason = None
        while received < length:
            if time.monotonic_ns() > deadline_ns:
                reason = "request exceeded its maximum duration"
                break
            try:
                n = self.rfile.readinto(view[: min(len(view), length - received)])
            except TimeoutError:
                reason = "client stopped sending (timeout)"
                break
            except OSError as exc:
                reason = f"receive failed: {exc.strerror or exc}"
                break
            if not n:
                reason = "connection closed by client"
                break
            received += n
        if reason is not None:
            self.server.stats.add(bytes_received=received, aborted=1)
            self.close_connection = True
            self.log_message("upload aborted after %d of %d bytes: %s", received, length, reason)
            return None
        self.server.stats.add(bytes_received=received, uploads=1)
        return received

    def _reply(self, code: int, body: bytes, *, content_type: str = "text/plain") -> None:
        try:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if body:
                self.wfile.write(body)
        except OSError as exc:
            self.close_connection = True
            self.log_message("reply failed: %s", exc)
