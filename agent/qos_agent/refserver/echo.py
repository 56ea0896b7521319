"""Raw HTTP echo for the ``http_integrity`` test: the request head exactly as it arrived.

``http.server`` parses and normalises headers, which would hide what a transparent proxy
changed, so this is a minimal server on a raw socket: it reads the request head byte for
byte (up to ``\\r\\n\\r\\n``, bounded in size and time) and answers

* ``GET /echo`` — the request head as received (request line, header names, case, order,
  whitespace) as an ``application/octet-stream`` body;
* ``GET /known`` — :data:`~qos_agent.integrity.known.KNOWN_BODY` with the exact head
  :data:`~qos_agent.integrity.known.KNOWN_RESPONSE_HEADERS` (its SHA-256 is known to the
  client);
* ``GET /manifest`` — the integrity reference's description of itself (JSON).

One request per connection (``Connection: close``); anything else is ``404``.
"""

from __future__ import annotations

import json
import socket
import socketserver
import threading
import time
from collections.abc import Callable
from typing import Any

from qos_agent.integrity.known import KNOWN_BODY, KNOWN_RESPONSE_HEADERS

MAX_HEAD_BYTES = 16384
IO_TIMEOUT_S = 5.0  # the whole request head must arrive within this (no slow-drip heads)
MAX_CONNECTIONS = 64  # simultaneous connections per service; more are closed at once


def _response(status: str, headers: list[tuple[str, str]], body: bytes) -> bytes:
    head = f"HTTP/1.1 {status}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    return head.encode("latin-1") + body


def _plain(status: str, body: bytes, content_type: str) -> bytes:
    headers = [
        ("Content-Type", content_type),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-store, no-transform"),
        ("Connection", "close"),
    ]
    return _response(status, headers, body)


def read_head(sock: socket.socket, deadline_s: float = IO_TIMEOUT_S) -> bytes | None:
    """The request head including its final blank line, or None if too long, cut short or
    not complete within ``deadline_s`` (one deadline for the whole head)."""
    data = bytearray()
    end_at = time.monotonic() + deadline_s
    while b"\r\n\r\n" not in data:
        left = end_at - time.monotonic()
        if left <= 0:
            return None
        sock.settimeout(left)
        try:
            chunk = sock.recv(4096)
        except TimeoutError:
            return None
        if not chunk:
            return None
        data += chunk
        if len(data) > MAX_HEAD_BYTES:
            return None
    end = data.index(b"\r\n\r\n") + 4
    return bytes(data[:end])


def reply_for(head: bytes, manifest: Callable[[], dict[str, Any]]) -> bytes:
    """The whole response to one request head."""
    request_line = head.split(b"\r\n", 1)[0].split(b" ")
    if len(request_line) != 3 or request_line[0] != b"GET":
        return _plain("405 Method Not Allowed", b"GET only\n", "text/plain")
    path = request_line[1].split(b"?", 1)[0]
    if path == b"/echo":
        return _plain("200 OK", head, "application/octet-stream")
    if path == b"/known":
        return _response("200 OK", list(KNOWN_RESPONSE_HEADERS), KNOWN_BODY)
    if path == b"/manifest":
        body = json.dumps(manifest(), sort_keys=True).encode()
        return _plain("200 OK", body, "application/json")
    return _plain("404 Not Found", b"not found\n", "text/plain")


class _EchoHandler(socketserver.BaseRequestHandler):
    server: EchoServer

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(IO_TIMEOUT_S)
        try:
            head = read_head(sock)
            if head is None:
                sock.sendall(_plain("431 Request Header Fields Too Large", b"", "text/plain"))
                return
            sock.sendall(reply_for(head, self.server.manifest))
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            return


class CappedServer(socketserver.ThreadingTCPServer):
    """A threaded TCP server that closes connections beyond ``max_connections`` at once, so
    a flood of idle connections cannot pin an unbounded number of threads."""

    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False
    max_connections = MAX_CONNECTIONS

    def server_activate(self) -> None:
        self._slots = threading.BoundedSemaphore(self.max_connections)
        self.rejected = 0
        super().server_activate()

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.rejected += 1
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except Exception:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


class EchoServer(CappedServer):
    """Threaded raw echo server; ``manifest`` supplies the ``/manifest`` document."""

    def __init__(self, address: tuple[str, int], manifest: Callable[[], dict[str, Any]]) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.manifest = manifest
        super().__init__(address, _EchoHandler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])


def serve_in_thread(server: socketserver.BaseServer, name: str) -> Callable[[], None]:
    """Serve ``server`` in a daemon thread; returns the function that stops it."""
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.2}, name=name, daemon=True
    )
    thread.start()

    def stop() -> None:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()

    return stop
