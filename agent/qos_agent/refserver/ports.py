"""TCP listeners and UDP echoes on a list of ports, for the ``port_reachability`` test.

Each TCP listener sends :func:`~qos_agent.integrity.known.tcp_banner` with its own port
number and closes, so a client can tell the reference from a middlebox that answered in
its place (a port redirected or intercepted on the way).  Each UDP socket answers a
datagram with :func:`~qos_agent.integrity.known.udp_reply`.  Ports that cannot be bound
(privileged, already in use) are left out and reported, so the published listening list
is exactly what is listening.  One selector thread serves all sockets.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from qos_agent.integrity.known import tcp_banner, udp_reply

_MAX_DATAGRAM = 2048


@dataclass
class PortListeners:
    """The bound sockets and what could not be bound."""

    tcp: dict[int, socket.socket] = field(default_factory=dict)
    udp: dict[int, socket.socket] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)


def bind_ports(
    bind: str, tcp_ports: list[int], udp_ports: list[int], ephemeral: int = 0
) -> PortListeners:
    """Bind the listed ports (0 = any free port) plus ``ephemeral`` free ports of each kind."""
    family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    out = PortListeners()
    for kind, ports in ((socket.SOCK_STREAM, tcp_ports), (socket.SOCK_DGRAM, udp_ports)):
        for port in [*ports, *([0] * ephemeral)]:
            sock = socket.socket(family, kind)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((bind, port))
                if kind == socket.SOCK_STREAM:
                    sock.listen(64)
            except OSError as exc:
                sock.close()
                label = "tcp" if kind == socket.SOCK_STREAM else "udp"
                out.unavailable[f"{label}/{port}"] = str(exc.strerror or exc)
                continue
            sock.setblocking(False)
            bound = sock.getsockname()[1]
            (out.tcp if kind == socket.SOCK_STREAM else out.udp)[bound] = sock
    return out


def _serve_tcp(sock: socket.socket, port: int) -> None:
    with contextlib.suppress(OSError):
        conn, _ = sock.accept()
        with conn:
            conn.settimeout(1.0)
            conn.sendall(tcp_banner(port))
            conn.shutdown(socket.SHUT_WR)


def _serve_udp(sock: socket.socket, port: int) -> None:
    with contextlib.suppress(OSError):
        data, peer = sock.recvfrom(_MAX_DATAGRAM)
        sock.sendto(udp_reply(port, data[:512]), peer)


def serve_ports(listeners: PortListeners, name: str = "qos-refserver-ports") -> Callable[[], None]:
    """Serve every socket in a daemon thread; returns the function that stops and closes them."""
    selector = selectors.DefaultSelector()
    for port, sock in listeners.tcp.items():
        selector.register(sock, selectors.EVENT_READ, (_serve_tcp, port))
    for port, sock in listeners.udp.items():
        selector.register(sock, selectors.EVENT_READ, (_serve_udp, port))
    stopping = threading.Event()

    def loop() -> None:
        while not stopping.is_set():
            for key, _ in selector.select(timeout=0.2):
                serve, port = key.data
                serve(key.fileobj, port)

    thread = threading.Thread(target=loop, name=name, daemon=True)
    thread.start()

    def stop() -> None:
        stopping.set()
        thread.join(timeout=2)
        selector.close()
        for sock in [*listeners.tcp.values(), *listeners.udp.values()]:
            sock.close()

    return stop
