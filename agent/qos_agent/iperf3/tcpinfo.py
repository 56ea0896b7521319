"""Linux ``TCP_INFO`` counters of a sending socket: bytes acknowledged, retransmissions, RTT.

Why: a sender's own byte counter includes data still sitting in its socket buffer (several
megabytes), so on a 50 Mbit/s link the "sent" rate of a 10-second test overstates what was
delivered by several percent.  ``tcpi_bytes_acked`` (RFC 4898 ``tcpEStatsAppHCThruOctetsAcked``,
Linux ≥ 4.1) counts only what the receiver acknowledged — goodput measured at the sender.
``tcpi_total_retrans`` feeds the RFC 6349 §4.2 TCP-efficiency figure (docs/methods.md §6.10).

Offsets follow ``struct tcp_info`` in ``include/uapi/linux/tcp.h`` (append-only ABI).
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

_TCP_INFO = getattr(socket, "TCP_INFO", 11)
_READ_BYTES = 232
_RTT_OFF = 68  # u32 tcpi_rtt, microseconds (smoothed)
_TOTAL_RETRANS_OFF = 100  # u32 tcpi_total_retrans, segments
_BYTES_ACKED_OFF = 120  # u64 tcpi_bytes_acked
_MIN_RTT_OFF = 148  # u32 tcpi_min_rtt, microseconds
_NEEDED = 128


@dataclass(frozen=True, slots=True)
class TcpInfo:
    bytes_acked: int
    total_retrans: int
    rtt_s: float
    min_rtt_s: float | None


def read(sock: socket.socket) -> TcpInfo | None:
    """The counters, or ``None`` where the kernel does not provide them (non-Linux, old)."""
    try:
        raw = sock.getsockopt(socket.IPPROTO_TCP, _TCP_INFO, _READ_BYTES)
    except OSError:
        return None
    if len(raw) < _NEEDED:
        return None
    (rtt_us,) = struct.unpack_from("=I", raw, _RTT_OFF)
    (retrans,) = struct.unpack_from("=I", raw, _TOTAL_RETRANS_OFF)
    (acked,) = struct.unpack_from("=Q", raw, _BYTES_ACKED_OFF)
    min_rtt = None
    if len(raw) >= _MIN_RTT_OFF + 4:
        (min_rtt_us,) = struct.unpack_from("=I", raw, _MIN_RTT_OFF)
        min_rtt = min_rtt_us / 1e6 if min_rtt_us not in (0, 0xFFFFFFFF) else None
    return TcpInfo(bytes_acked=acked, total_retrans=retrans, rtt_s=rtt_us / 1e6, min_rtt_s=min_rtt)
