"""The one decoder of Linux ``TCP_INFO`` (``struct tcp_info``, ``include/uapi/linux/tcp.h``).

Why: a sender's own byte counter includes data still sitting in its socket buffer (several
megabytes), so on a 50 Mbit/s link the "sent" rate of a 10-second test overstates what was
delivered by several percent.  ``tcpi_bytes_acked`` (RFC 4898
``tcpEStatsAppHCThruOctetsAcked``, Linux ≥ 4.1) counts only what the receiver acknowledged:
goodput measured at the sender.  ``tcpi_total_retrans`` feeds the RFC 6349 §4.2
TCP-efficiency figure; ``tcpi_sacked`` and ``tcpi_snd_mss`` bound the out-of-order data the
peer holds (RFC 2018).

What ``tcpi_bytes_acked`` counts is sequence space, not payload.  The kernel adds
``ack - snd_una`` on every advancing ACK (``tcp_snd_una_update``).  A socket that called
``connect()`` starts with ``snd_una`` at its initial sequence number (``tcp_connect_init``),
so the SYN-ACK acknowledging the SYN adds 1; an accepted socket starts at ISN + 1
(``tcp_create_openreq_child``) and sets ``snd_una`` directly when the handshake completes,
so its count starts at 0.  Once our FIN is acknowledged, one more is added.  Measured on a
loopback connection (Linux 6.18, ``ss -ti`` shows the same raw values): after sending
123457 bytes, the connecting socket reported 123458, the accepting socket 0 → 777 for 777
bytes sent, and each grew by one when its FIN was acknowledged.  :meth:`TcpInfo.payload_acked`
therefore subtracts the SYN only for connecting sockets; read it before shutting down the
sending side.  ``tcpi_bytes_received`` never counts the peer's SYN (``rcv_nxt`` starts past
it) but counts its FIN once received.

Offsets follow ``struct tcp_info`` (append-only ABI).
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

_TCP_INFO = getattr(socket, "TCP_INFO", 11)
_READ_BYTES = 232
_SND_MSS = 16  # u32 tcpi_snd_mss, bytes
_SACKED = 28  # u32 tcpi_sacked, segments SACKed beyond the cumulative ACK
_RTT = 68  # u32 tcpi_rtt, microseconds (smoothed)
_TOTAL_RETRANS = 100  # u32 tcpi_total_retrans, segments
_BYTES_ACKED = 120  # u64 tcpi_bytes_acked (Linux ≥ 4.1), sequence space: see above
_BYTES_RECEIVED = 128  # u64 tcpi_bytes_received (Linux ≥ 4.1)
_SEGS_OUT = 136  # u32 tcpi_segs_out (Linux ≥ 4.2)
_SEGS_IN = 140  # u32 tcpi_segs_in
_MIN_RTT = 148  # u32 tcpi_min_rtt, microseconds (Linux ≥ 4.6)
_BYTES_SENT = 200  # u64 tcpi_bytes_sent (Linux ≥ 5.5), includes retransmissions
_BYTES_RETRANS = 208  # u64 tcpi_bytes_retrans (Linux ≥ 5.5)
_NEEDED = _SEGS_IN + 4


@dataclass(frozen=True, slots=True)
class TcpInfo:
    """One socket's ``TCP_INFO`` counters, as the kernel reports them (``ss -ti``)."""

    bytes_acked: int  # tcpi_bytes_acked: acknowledged sequence space (SYN/FIN included)
    bytes_received: int  # payload received in sequence (+1 once the peer's FIN arrived)
    bytes_sent: int | None  # payload sent incl. retransmissions (None: kernel < 5.5)
    bytes_retrans: int | None
    segs_out: int
    segs_in: int
    total_retrans: int
    snd_mss: int
    sacked: int
    rtt_s: float
    min_rtt_s: float | None

    def payload_acked(self, *, connected: bool = True) -> int:
        """Payload bytes the peer acknowledged, before our FIN.

        ``connected``: the socket was opened by ``connect()`` (its SYN is counted);
        ``False`` for a socket returned by ``accept()``.
        """
        return max(0, self.bytes_acked - 1) if connected else self.bytes_acked

    def sacked_bytes(self) -> int:
        """A lower bound of the payload SACKed beyond the cumulative ACK (RFC 2018).

        Every SACKed segment but one counts as a full segment: the last one of a body may
        be shorter.
        """
        return max(0, self.sacked - 1) * self.snd_mss


def read(sock: socket.socket) -> TcpInfo | None:
    """The socket's counters, or ``None`` where unavailable (non-Linux, old kernel, closed)."""
    try:
        raw = sock.getsockopt(socket.IPPROTO_TCP, _TCP_INFO, _READ_BYTES)
    except (OSError, AttributeError):
        return None
    if len(raw) < _NEEDED:
        return None
    min_rtt = None
    if len(raw) >= _MIN_RTT + 4:
        (min_rtt_us,) = struct.unpack_from("=I", raw, _MIN_RTT)
        min_rtt = min_rtt_us / 1e6 if min_rtt_us not in (0, 0xFFFFFFFF) else None
    sent = retrans = None
    if len(raw) >= _BYTES_RETRANS + 8:
        sent, retrans = struct.unpack_from("=QQ", raw, _BYTES_SENT)
    acked, received = struct.unpack_from("=QQ", raw, _BYTES_ACKED)
    segs_out, segs_in = struct.unpack_from("=II", raw, _SEGS_OUT)
    (rtt_us,) = struct.unpack_from("=I", raw, _RTT)
    return TcpInfo(
        bytes_acked=acked,
        bytes_received=received,
        bytes_sent=sent,
        bytes_retrans=retrans,
        segs_out=segs_out,
        segs_in=segs_in,
        total_retrans=struct.unpack_from("=I", raw, _TOTAL_RETRANS)[0],
        snd_mss=struct.unpack_from("=I", raw, _SND_MSS)[0],
        sacked=struct.unpack_from("=I", raw, _SACKED)[0],
        rtt_s=rtt_us / 1e6,
        min_rtt_s=min_rtt,
    )
