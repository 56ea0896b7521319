"""Client side of the reference protocol: request heads, response heads, TCP_INFO.

The throughput collector speaks HTTP/1.1 on raw sockets (no ``http.client`` buffering in
the data path) and hands the raw response head to the pure :func:`parse_response_head`,
so garbage from a server becomes a clear :class:`ProtocolError` instead of a hang or a
misleading figure.  :func:`tcp_info` reads the Linux ``struct tcp_info`` counters that
give transport-payload byte counts independent of socket buffering: ``bytes_acked``
(delivered to the peer, RFC 4898 ``tcpEStatsAppHCThruOctetsAcked``) and ``bytes_received``.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_HEAD_BYTES = 16 * 1024

# struct tcp_info (include/uapi/linux/tcp.h): offsets of the 64-bit byte counters and the
# 32-bit segment/retransmission counters used here (stable since Linux 4.6 / 5.5).
_TCPI_TOTAL_RETRANS = 100  # u32
_TCPI_BYTES_ACKED = 120  # u64; counts one extra for the SYN/SYN-ACK exchange
_TCPI_BYTES_RECEIVED = 128  # u64
_TCPI_SEGS_OUT = 136  # u32
_TCPI_SEGS_IN = 140  # u32
_TCPI_BYTES_SENT = 200  # u64 (Linux ≥ 5.5), includes retransmissions
_TCPI_BYTES_RETRANS = 208  # u64 (Linux ≥ 5.5)


class ProtocolError(Exception):
    """The server's reply is not what the reference protocol allows."""


@dataclass(frozen=True, slots=True)
class ResponseHead:
    status: int
    reason: str
    headers: dict[str, str]  # lower-case names
    head_bytes: int  # length on the wire, including the blank line that ends it

    @property
    def content_length(self) -> int | None:
        value = self.headers.get("content-length")
        return int(value) if value is not None else None

    @property
    def keep_alive(self) -> bool:
        return "close" not in self.headers.get("connection", "").lower()


@dataclass(frozen=True, slots=True)
class BaseUrl:
    host: str
    port: int
    path_prefix: str  # "" or "/something" without trailing slash

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def parse_base_url(target: str) -> BaseUrl:
    """``http://host:port[/prefix]`` or ``host:port`` → :class:`BaseUrl` (ValueError if bad)."""
    text = target.strip()
    if "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    if parts.scheme != "http":
        raise ValueError(f"target {target!r}: only http:// is supported (got {parts.scheme}://)")
    if not parts.hostname:
        raise ValueError(f"target {target!r} has no host")
    try:
        port = parts.port or 80
    except ValueError as exc:
        raise ValueError(f"target {target!r}: {exc}") from None
    return BaseUrl(host=parts.hostname, port=port, path_prefix=parts.path.rstrip("/"))


def request_head(
    method: str, path: str, host_header: str, *, content_length: int | None = None
) -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        f"Host: {host_header}",
        "User-Agent: qos-toolkit",
        "Accept-Encoding: identity",
        "Connection: keep-alive",
    ]
    if content_length is not None:
        lines += ["Content-Type: application/octet-stream", f"Content-Length: {content_length}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


def parse_response_head(raw: bytes) -> ResponseHead:
    """Parse a status line and headers (without the final blank line); ProtocolError if bad."""
    try:
        text = raw.decode("iso-8859-1")
    except UnicodeDecodeError as exc:  # pragma: no cover - latin-1 decodes every byte
        raise ProtocolError(str(exc)) from None
    lines = text.split("\r\n")
    status_line = lines[0]
    parts = status_line.split(" ", 2)
    if (
        len(parts) < 2
        or not parts[0].startswith("HTTP/1.")
        or not parts[1].isdigit()
        or len(parts[1]) != 3
    ):
        raise ProtocolError(f"invalid HTTP status line {status_line[:60]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise ProtocolError(f"invalid HTTP header line {line[:60]!r}")
        headers[name.lower()] = value.strip()
    length = headers.get("content-length")
    if length is not None and (not length.isdigit() or len(length) > 19):
        raise ProtocolError(f"invalid Content-Length {length[:30]!r}")
    if "chunked" in headers.get("transfer-encoding", "").lower():
        raise ProtocolError("chunked responses are not part of the reference protocol")
    return ResponseHead(
        status=int(parts[1]),
        reason=parts[2] if len(parts) > 2 else "",
        headers=headers,
        head_bytes=len(raw) + 4,
    )


def read_response_head(recv: Callable[[int], bytes], pending: bytearray) -> ResponseHead:
    """Read with ``recv`` until a complete head; body bytes that came along stay in ``pending``.

    ``recv`` is the socket's ``recv`` (or a counting wrapper).  Raises ProtocolError for
    garbage or an oversized head, ConnectionError on EOF, and the socket's TimeoutError
    when the server is silent.
    """
    while True:
        end = pending.find(b"\r\n\r\n")
        if end >= 0:
            head = bytes(pending[:end])
            del pending[: end + 4]
            return parse_response_head(head)
        prefix = bytes(pending[:5])
        if not b"HTTP/".startswith(prefix) and not prefix.startswith(b"HTTP/"):
            raise ProtocolError(f"reply does not start with HTTP/ (starts {bytes(pending[:40])!r})")
        if len(pending) > MAX_HEAD_BYTES:
            raise ProtocolError(f"no end of HTTP head within {MAX_HEAD_BYTES} bytes")
        chunk = recv(65536)
        if not chunk:
            raise ConnectionError("connection closed by server before a complete reply")
        pending += chunk


@dataclass(frozen=True, slots=True)
class TcpCounters:
    """Transport-level counters of one socket (Linux ``TCP_INFO``)."""

    bytes_acked: int  # payload bytes the peer acknowledged
    bytes_received: int  # payload bytes received in sequence
    bytes_sent: int | None  # payload bytes sent incl. retransmissions (None: old kernel)
    bytes_retrans: int | None
    segs_out: int
    segs_in: int
    total_retrans: int


def tcp_info(sock: socket.socket) -> TcpCounters | None:
    """The socket's TCP_INFO counters, or None where unavailable (non-Linux, closed)."""
    option = getattr(socket, "TCP_INFO", None)
    if option is None:
        return None
    try:
        raw = sock.getsockopt(socket.IPPROTO_TCP, option, 512)
    except OSError:
        return None
    if len(raw) < _TCPI_SEGS_IN + 4:
        return None
    acked = struct.unpack_from("=Q", raw, _TCPI_BYTES_ACKED)[0]
    sent = retrans = None
    if len(raw) >= _TCPI_BYTES_RETRANS + 8:
        sent, retrans = struct.unpack_from("=QQ", raw, _TCPI_BYTES_SENT)
    return TcpCounters(
        bytes_acked=max(0, acked - 1),
        bytes_received=struct.unpack_from("=Q", raw, _TCPI_BYTES_RECEIVED)[0],
        bytes_sent=sent,
        bytes_retrans=retrans,
        segs_out=struct.unpack_from("=I", raw, _TCPI_SEGS_OUT)[0],
        segs_in=struct.unpack_from("=I", raw, _TCPI_SEGS_IN)[0],
        total_retrans=struct.unpack_from("=I", raw, _TCPI_TOTAL_RETRANS)[0],
    )
