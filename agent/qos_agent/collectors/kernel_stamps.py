"""Kernel send and receive timestamps of a socket's packets (Linux ``SO_TIMESTAMPING``).

A round trip timed in user space includes, at the send end, whatever the process does between
reading the clock and the packet leaving (encoding, system-call entry, routing) and, at the
receive end, the time the process waits to be woken.  The kernel can stamp both instants
itself (Linux ``Documentation/networking/timestamping.rst``):

* receive: ``SO_TIMESTAMPNS`` puts the arrival instant (``CLOCK_REALTIME``) on each datagram
  as ``SCM_TIMESTAMPNS`` ancillary data;
* send: ``SO_TIMESTAMPING`` with ``SOF_TIMESTAMPING_TX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE``
  has the kernel stamp each packet as the device driver takes it (``skb_tx_timestamp``; the
  loopback, veth and TUN drivers do), and queue the stamp — on the same ``CLOCK_REALTIME`` —
  on the socket's error queue (``MSG_ERRQUEUE``, ``SCM_TIMESTAMPING``).  ``OPT_TSONLY``
  returns the stamp without a copy of the packet; ``OPT_ID`` numbers the stamps 0, 1, 2, …
  in the order of the successful send calls since the option was set (the key is
  ``ee_data`` of the ``sock_extended_err`` that comes with the stamp).

Both stamps on one clock make the round trip ``receive - send`` with no clock conversion.
Everything here is best effort: a socket or platform without these options answers
"unavailable" and the caller keeps its user-space stamps.
"""

from __future__ import annotations

import socket
import struct
import sys
from collections.abc import Iterable

# <asm-generic/socket.h>, <linux/net_tstamp.h>, <linux/errqueue.h>, <linux/in.h>, <linux/in6.h>
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
SO_TIMESTAMPING = getattr(socket, "SO_TIMESTAMPING", 37)
SOF_TIMESTAMPING_TX_SOFTWARE = 1 << 1
SOF_TIMESTAMPING_SOFTWARE = 1 << 4
SOF_TIMESTAMPING_OPT_ID = 1 << 7
SOF_TIMESTAMPING_OPT_TSONLY = 1 << 11
TX_FLAGS = (
    SOF_TIMESTAMPING_TX_SOFTWARE
    | SOF_TIMESTAMPING_SOFTWARE
    | SOF_TIMESTAMPING_OPT_ID
    | SOF_TIMESTAMPING_OPT_TSONLY
)
IP_RECVERR = getattr(socket, "IP_RECVERR", 11)
IPV6_RECVERR = getattr(socket, "IPV6_RECVERR", 25)
SO_EE_ORIGIN_TIMESTAMPING = 4
SCM_TSTAMP_SND = 0  # ee_info of a stamp taken as the driver sends the packet

_TIMESPEC = struct.Struct("@ll")
#: struct sock_extended_err: errno, origin, type, code, pad, info, data
_EXTENDED_ERR = struct.Struct("=IBBBBII")
_RECVERR = frozenset({(socket.IPPROTO_IP, IP_RECVERR), (socket.IPPROTO_IPV6, IPV6_RECVERR)})
ERRQUEUE_ANCBUFSIZE = socket.CMSG_SPACE(3 * _TIMESPEC.size) + socket.CMSG_SPACE(64)


def enable_receive_stamps(sock: socket.socket) -> bool:
    """Ask for ``SCM_TIMESTAMPNS`` on every received datagram; False if refused."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    except OSError:
        return False
    return True


def enable_send_stamps(sock: socket.socket) -> bool:
    """Ask for the kernel's software transmit stamp of every packet sent; False if refused.

    Linux only (the option numbers are Linux's).  Setting the option restarts the
    ``OPT_ID`` numbering at 0, so call it before the first send.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPING, TX_FLAGS)
    except OSError:
        return False
    return True


def receive_stamp_ns(ancdata: Iterable[tuple[int, int, bytes]]) -> int | None:
    """The kernel's receive instant (``SCM_TIMESTAMPNS``, Unix ns) in ``recvmsg`` data."""
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= _TIMESPEC.size:
            seconds, nanoseconds = _TIMESPEC.unpack_from(data)
            return seconds * 1_000_000_000 + nanoseconds
    return None


def parse_send_stamp(ancdata: Iterable[tuple[int, int, bytes]]) -> tuple[int, int] | None:
    """(``OPT_ID`` key, transmit instant in Unix ns) of one error-queue message, or None.

    None when the message is not a software transmit stamp (an ICMP error queued by
    ``IP_RECVERR``, a stamp of another kind, or a zero software stamp).
    """
    stamp_ns: int | None = None
    key: int | None = None
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPING and len(data) >= _TIMESPEC.size:
            seconds, nanoseconds = _TIMESPEC.unpack_from(data)  # ts[0]: the software stamp
            stamp_ns = seconds * 1_000_000_000 + nanoseconds or None
        elif (level, kind) in _RECVERR and len(data) >= _EXTENDED_ERR.size:
            _errno, origin, _type, _code, _pad, info, data_key = _EXTENDED_ERR.unpack_from(data)
            if origin == SO_EE_ORIGIN_TIMESTAMPING and info == SCM_TSTAMP_SND:
                key = data_key
    if stamp_ns is None or key is None:
        return None
    return key, stamp_ns


def read_send_stamps(sock: socket.socket, limit: int | None = None) -> list[tuple[int, int]]:
    """The transmit stamps waiting on the error queue of the non-blocking ``sock``: all of
    them, or those among the first ``limit`` messages (a caller that knows how many stamps
    it is owed then spends no system call on finding the queue empty)."""
    stamps: list[tuple[int, int]] = []
    remaining = -1 if limit is None else limit
    while remaining:
        remaining -= 1
        try:
            _data, ancdata, _flags, _addr = sock.recvmsg(
                64, ERRQUEUE_ANCBUFSIZE, socket.MSG_ERRQUEUE
            )
        except (BlockingIOError, InterruptedError):
            return stamps
        except OSError:
            return stamps  # an error queued by the socket itself: nothing more to read here
        stamp = parse_send_stamp(ancdata)
        if stamp is not None:
            stamps.append(stamp)
    return stamps
