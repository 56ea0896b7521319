"""Witness of CPU stalls that no process on the host can avoid, and of ICMP echo requests.

Run one per CPU as a separate process (``python tests/agent/stall_witness.py CPU``),
pinned to that CPU under ``SCHED_FIFO`` priority 1, the policy of the probe sender it
watches: it wakes every millisecond and records how late each wake-up was.  A real-time
task is late only when its CPU did not run it — the hypervisor descheduled the virtual
CPU (steal time) or a real-time task of equal or higher priority held it — and the
sender's own wake-up timer may sit on any CPU's timer queue, so a stall of a CPU is one
the sender could not avoid.

It also reads every ICMP echo request on a raw socket with the kernel's receive stamp
(``SO_TIMESTAMPNS``), which on loopback is the instant the request was sent: that places
the sender's probes on the same clock as the stalls.  Both are ``CLOCK_REALTIME``
nanoseconds.  After ``READY`` it watches until its standard input closes (at most
``MAX_S``), then prints one JSON object: ``stalls`` as ``[deadline_ns, late_ns]`` for
every wake-up later than 200 µs, ``requests`` as ``[icmp_id, sequence, kernel_ns]``.
"""

from __future__ import annotations

import json
import os
import select
import socket
import struct
import sys
import time

PERIOD_NS = 1_000_000
MAX_S = 120
REPORT_LATE_NS = 200_000
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)


def _requests(sock: socket.socket, out: list[list[int]]) -> None:
    """Drain the raw socket: echo requests (type 8) as [id, sequence, kernel stamp]."""
    while True:
        try:
            packet, ancdata, _flags, _addr = sock.recvmsg(2048, 256)
        except BlockingIOError:
            return
        header = (packet[0] & 0x0F) * 4
        if len(packet) < header + 8 or packet[header] != 8:
            continue
        ident, sequence = struct.unpack_from("!HH", packet, header + 4)
        stamp = next(
            (
                int.from_bytes(data[:8], sys.byteorder) * 1_000_000_000
                + int.from_bytes(data[8:16], sys.byteorder)
                for level, kind, data in ancdata
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16
            ),
            None,
        )
        if stamp is not None:
            out.append([ident, sequence, stamp])


def main(cpu: int) -> int:
    os.sched_setaffinity(0, {cpu})
    os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    # room for every request of a burst (a sender catching up) while this process waits
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.setblocking(False)
    stalls: list[list[int]] = []
    requests: list[list[int]] = []
    print("READY", flush=True)
    deadline = time.time_ns() + PERIOD_NS
    end = deadline + MAX_S * 1_000_000_000
    while deadline < end:
        wait = deadline - time.time_ns()
        if wait > 0:
            ready = select.select([sock, sys.stdin], [], [], wait / 1e9)[0]
            if sys.stdin in ready:
                break  # EOF: the watched run is over
            if ready:
                _requests(sock, requests)
                continue
        late = time.time_ns() - deadline
        if late > REPORT_LATE_NS:
            stalls.append([deadline, late])
        deadline += PERIOD_NS * max(1, 1 + late // PERIOD_NS)
    _requests(sock, requests)
    print(json.dumps({"stalls": stalls, "requests": requests}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(int(sys.argv[1])))
