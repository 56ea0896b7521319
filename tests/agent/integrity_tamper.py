"""Small manipulating middleboxes on loopback for the integrity collectors' tests.

Each one is a real relay on real sockets that changes traffic the way a transparent proxy
or an intercepting TLS proxy does, so the collectors are tested against bytes that really
crossed a changed path (the lab repeats this with dnsmasq, tinyproxy and iptables).
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import ssl
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from qos_agent.refserver.echo import read_head
from qos_agent.refserver.tlsref import make_self_signed


class _Relay(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False


@contextlib.contextmanager
def serving(server: socketserver.BaseServer) -> Iterator[int]:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.daemon = True
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()


def _read_all(sock: socket.socket) -> bytes:
    data = bytearray()
    while chunk := sock.recv(65536):
        data += chunk
    return bytes(data)


def http_tamper(
    upstream: tuple[str, int],
    request: Callable[[bytes], bytes],
    response: Callable[[bytes], bytes],
) -> _Relay:
    """A relay that rewrites each request head and each whole response with the callables."""

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            self.request.settimeout(5)
            head = read_head(self.request)
            if head is None:
                return
            with socket.create_connection(upstream, timeout=5) as up:
                up.sendall(request(head))
                reply = _read_all(up)
            self.request.sendall(response(reply))

    return _Relay(("127.0.0.1", 0), Handler)


def add_request_header(line: bytes) -> Callable[[bytes], bytes]:
    def change(head: bytes) -> bytes:
        first, rest = head.split(b"\r\n", 1)
        return first + b"\r\n" + line + b"\r\n" + rest

    return change


def tls_interceptor(upstream: tuple[str, int]) -> tuple[_Relay, tempfile.TemporaryDirectory[str]]:
    """Terminates TLS with its own certificate (at most TLS 1.2 towards the client) and
    re-originates it to ``upstream`` without SNI, relaying the server's reply."""
    tmp = tempfile.TemporaryDirectory(prefix="qos-test-mitm-")
    cert = make_self_signed(Path(tmp.name), name="intercepted.example")
    front = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    front.maximum_version = ssl.TLSVersion.TLSv1_2
    front.load_cert_chain(cert.cert_file, cert.key_file)
    back = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    back.check_hostname = False
    back.verify_mode = ssl.CERT_NONE

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            self.request.settimeout(5)
            with (
                contextlib.suppress(OSError),
                front.wrap_socket(self.request, server_side=True) as client,
                socket.create_connection(upstream, timeout=5) as raw,
                back.wrap_socket(raw) as server,  # no server_hostname: no SNI
            ):
                client.sendall(_read_all(server))

    return _Relay(("127.0.0.1", 0), Handler), tmp


@contextlib.contextmanager
def dns_relay(upstream: tuple[str, int], change: Callable[[bytes], bytes]) -> Iterator[int]:
    """A UDP resolver on loopback that forwards to ``upstream`` and rewrites each answer."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.1)
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                query, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as up:
                up.settimeout(2)
                up.sendto(query, upstream)
                with contextlib.suppress(OSError):
                    sock.sendto(change(up.recv(4096)), peer)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield int(sock.getsockname()[1])
    finally:
        stop.set()
        thread.join(2)
        sock.close()


def set_ad_bit(answer: bytes) -> bytes:
    """Set AD (RFC 4035 §3.2.3): bit 0x20 of the second flags byte."""
    return answer[:3] + bytes([answer[3] | 0x20]) + answer[4:]
