"""Socket helpers shared by the collectors: address resolution and abortive close."""

from __future__ import annotations

import socket
from typing import Any

_LINGER_ZERO = b"\x01\x00\x00\x00\x00\x00\x00\x00"  # struct linger {l_onoff=1, l_linger=0}


def first_address(host: str, port: int, kind: socket.SocketKind) -> tuple[int, Any]:
    """``(family, sockaddr)`` of the first ``getaddrinfo`` answer, as ``connect()`` would use.

    Raises ``socket.gaierror`` (an ``OSError``) when the name does not resolve.
    """
    family, _, _, _, sockaddr = socket.getaddrinfo(host, port, type=kind)[0]
    return family, sockaddr


def abort_with_rst(sock: socket.socket) -> None:
    """Shut ``sock`` down with RST instead of flushing its send queue (``SO_LINGER`` 0).

    Used at a test's deadline: no traffic leaves after it (RFC 9293 §3.10.4, ABORT).
    The caller still closes the socket; errors of an already dead socket are ignored.
    """
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_ZERO)
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
