"""UDP socket plumbing shared by the STAMP sender and reflector (RFC 5357 §4.1.2, §4.2).

* received TTL / Hop Limit via ``IP_RECVTTL`` / ``IPV6_RECVHOPLIMIT`` ancillary data (the
  reflector copies it into "Ses-Sender TTL", RFC 5357 §4.2.1; the sender records it);
* kernel receive timestamps via ``SO_TIMESTAMPNS``, so arrival times exclude the time this
  process waited for the CPU;
* TTL / Hop Limit 255 on everything we send (RFC 5357 §4.1.2, §4.2).
"""

from __future__ import annotations

import contextlib
import socket
import struct
from typing import Literal

from qos_agent.stamp.codec import MAX_SIZE

# Linux constants Python does not export everywhere (linux/in.h, asm-generic/socket.h)
IP_RECVTTL = getattr(socket, "IP_RECVTTL", 12)
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
_TIMESPEC = struct.Struct("@ll")
_CMSG_SPACE = socket.CMSG_SPACE(4) + socket.CMSG_SPACE(_TIMESPEC.size) + 64

Address = tuple[str, int]


def open_udp_socket(bind: str, port: int) -> socket.socket:
    """A UDP socket bound to ``bind:port`` that reports received TTL and kernel timestamps."""
    infos = socket.getaddrinfo(bind, port, type=socket.SOCK_DGRAM, flags=socket.AI_PASSIVE)
    family, _, _, _, sockaddr = infos[0]
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        enable_receive_metadata(sock)
        set_send_ttl(sock, 255)
        sock.bind(sockaddr)
    except OSError:
        sock.close()
        raise
    return sock


def enable_receive_metadata(sock: socket.socket) -> None:
    """Ask for TTL/Hop Limit and kernel receive timestamps as ancillary data (best effort)."""
    options = [(socket.SOL_SOCKET, SO_TIMESTAMPNS)]
    if sock.family == socket.AF_INET6:
        options += [
            (socket.IPPROTO_IPV6, socket.IPV6_RECVHOPLIMIT),
            (socket.IPPROTO_IP, IP_RECVTTL),
        ]
    else:
        options.append((socket.IPPROTO_IP, IP_RECVTTL))
    for level, option in options:
        # not supported here: TTL becomes "unknown", T2 a user-space timestamp
        with contextlib.suppress(OSError):
            sock.setsockopt(level, option, 1)


def set_send_ttl(sock: socket.socket, ttl: int) -> None:
    """IP TTL / IPv6 unicast Hop Limit of packets we send (RFC 5357 §4.1.2, §4.2: 255)."""
    if sock.family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, ttl)
        with contextlib.suppress(OSError):  # v4-mapped traffic
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
    else:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)


def receive(
    sock: socket.socket, bufsize: int = MAX_SIZE + 1
) -> tuple[bytes, Address, int | None, int | None]:
    """``recvmsg`` → (data, source, received TTL or None, kernel Unix-ns timestamp or None)."""
    data, ancdata, _flags, source = sock.recvmsg(bufsize, _CMSG_SPACE)
    ttl: int | None = None
    stamp_ns: int | None = None
    for level, kind, payload in ancdata:
        if (level, kind) in {
            (socket.IPPROTO_IP, socket.IP_TTL),
            (socket.IPPROTO_IPV6, socket.IPV6_HOPLIMIT),
        } and len(payload) >= 4:
            ttl = int.from_bytes(payload[:4], byteorder=_NATIVE)
        elif level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(payload) >= 16:
            sec, nsec = _TIMESPEC.unpack_from(payload)
            stamp_ns = sec * 1_000_000_000 + nsec
    return data, (source[0], source[1]), ttl, stamp_ns


_NATIVE: Literal["little", "big"] = "little" if struct.pack("=H", 1)[0] == 1 else "big"
