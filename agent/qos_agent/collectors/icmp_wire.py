"""ICMP echo on the wire without per-packet objects (RFC 792, RFC 4443 §4.1-4.2).

The ICMP collector sends thousands of probes per measurement; building an object per
request and per reply cost several times the CPU of ``fping`` for the same probes.  Here:

* :func:`open_socket` opens a raw (``SOCK_RAW``, needs ``CAP_NET_RAW``) or datagram
  (``SOCK_DGRAM``, Linux "ping socket", allowed by ``net.ipv4.ping_group_range``) socket;
* :class:`EchoWriter` keeps one echo-request buffer per stream and rewrites only the
  sequence number and the checksum, which is updated from a precomputed partial sum
  (RFC 1071 §2; RFC 1624 incremental update); ICMPv6 and ping-socket checksums are filled
  in by the kernel (RFC 4443 §2.3, the IPv6 pseudo-header is the kernel's to know);
* :func:`parse_reply` reads type, code, identifier and sequence of a reply — or, for an
  error message (destination unreachable, time exceeded), of the echo request it quotes —
  with one ``unpack_from`` and no copies.
"""

from __future__ import annotations

import socket
import struct

ECHO_REQUEST: dict[int, int] = {socket.AF_INET: 8, socket.AF_INET6: 128}
ECHO_REPLY: dict[int, int] = {socket.AF_INET: 0, socket.AF_INET6: 129}
#: ICMP types that quote the offending datagram (RFC 792; RFC 4443 §3.1, §3.3)
ERROR_TYPES: dict[int, tuple[int, int]] = {socket.AF_INET: (3, 11), socket.AF_INET6: (1, 3)}
_HEADER = struct.Struct("!BBHHH")  # type, code, checksum, identifier, sequence


def open_socket(
    family: int, privileged: bool, *, source: str = "", ttl: int | None = None
) -> socket.socket:
    """An ICMP socket of the requested kind; raises ``OSError`` (``PermissionError`` when
    the process lacks the right) if it cannot be opened."""
    v4 = family == socket.AF_INET
    proto = socket.IPPROTO_ICMP if v4 else socket.IPPROTO_ICMPV6
    sock = socket.socket(family, socket.SOCK_RAW if privileged else socket.SOCK_DGRAM, proto)
    try:
        if source:
            sock.bind((source, 0))
        if ttl is not None:
            if v4:
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
            else:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, ttl)
    except BaseException:
        sock.close()
        raise
    return sock


def can_open(family: int, privileged: bool) -> str | None:
    """None if an ICMP socket of that kind opens here, else the reason."""
    try:
        open_socket(family, privileged).close()
    except PermissionError:
        return "permission denied"
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def socket_identifier(sock: socket.socket, requested: int, privileged: bool) -> int:
    """The identifier replies will carry: a ping socket uses its local "port" instead."""
    if privileged:
        return requested
    return int(sock.getsockname()[1]) or requested


def _sum16(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    return sum(struct.unpack(f"!{len(data) // 2}H", data))


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071) of ``data``."""
    total = _sum16(data)
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


class EchoWriter:
    """Echo requests of one stream: a fixed buffer, sequence and checksum rewritten in place."""

    def __init__(self, family: int, identifier: int, payload: bytes, privileged: bool) -> None:
        self.identifier = identifier & 0xFFFF
        self.buffer = bytearray(_HEADER.pack(ECHO_REQUEST[family], 0, 0, self.identifier, 0))
        self.buffer += payload
        # the kernel computes ICMPv6 checksums and those of ping sockets
        self._checksummed = family == socket.AF_INET and privileged
        self._partial = _sum16(bytes(self.buffer))

    def packet(self, sequence: int) -> bytearray:
        """The request with ``sequence`` (mod 2^16); valid until the next call."""
        sequence &= 0xFFFF
        value = 0
        if self._checksummed:
            total = self._partial + sequence
            while total >> 16:
                total = (total & 0xFFFF) + (total >> 16)
            value = ~total & 0xFFFF
        struct.pack_into("!HHH", self.buffer, 2, value, self.identifier, sequence)
        return self.buffer


def parse_reply(
    packet: bytes | memoryview, family: int, privileged: bool
) -> tuple[int, int, int, int, int | None] | None:
    """``(type, code, identifier, sequence, ttl)`` of a received ICMP message, or None.

    For an error message the identifier and sequence are those of the quoted echo request
    (so it can be matched to its probe).  ``ttl`` is read from the IPv4 header a raw socket
    delivers (None otherwise: use ``IP_RECVTTL`` / ``IPV6_RECVHOPLIMIT``).
    """
    offset, ttl = 0, None
    v4 = family == socket.AF_INET
    if v4 and privileged:
        if len(packet) < 20:
            return None
        offset, ttl = (packet[0] & 0x0F) * 4, packet[8]
    if len(packet) < offset + 8:
        return None
    kind, code, _checksum, ident, seq = _HEADER.unpack_from(packet, offset)
    if kind in ERROR_TYPES[family]:
        inner = offset + 8
        if v4:
            if len(packet) < inner + 20:
                return None
            inner += (packet[inner] & 0x0F) * 4
        else:
            inner += 40
        if len(packet) < inner + 8:
            return None
        _k, _c, _s, ident, seq = _HEADER.unpack_from(packet, inner)
    return kind, code, ident, seq, ttl
