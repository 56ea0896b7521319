"""Data-stream workers of an iperf3 test: one thread per stream, counters read by the sampler.

Each worker owns one socket and one :class:`StreamState`; the control thread only reads the
counters (plain ints, written by a single thread) when it takes an interval sample.  Senders
pace themselves to a per-stream rate when one is set (like iperf3's ``-b``: the stream may
send while ``bytes·8 / elapsed`` is below the rate).  Receivers of UDP keep iperf3's
accounting (``iperf_udp_recv``): a gap in the packet counter counts as loss, a counter that
goes backwards is out of order and takes one back from the loss count, and the RFC 3550
§A.8 jitter input — transit time = arrival − send timestamp — is kept per packet so the
jitter is computed once, by :func:`qos.metrics.jitter_rfc3550_s` (docs/methods.md §6.1).
"""

from __future__ import annotations

import errno
import os
import socket
import struct
import threading
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field

from qos_agent.net import iperf3_wire as protocol

_POLL_S = 0.2  # socket timeout, so workers notice the end of the test promptly
_PACE_SLEEP_S = 0.001  # iperf3's default pacing timer is 1 ms


@dataclass
class StreamState:
    """Counters of one stream (all since the stream started, warm-up included)."""

    index: int
    iperf_id: int
    sock: socket.socket
    sender: bool
    bytes: int = 0  # payload bytes sent (sender) or received (receiver)
    packets: int = 0  # UDP: datagrams sent (sender) / highest counter seen (receiver)
    received_packets: int = 0  # UDP receiver
    lost: int = 0  # UDP receiver: counter gaps, iperf3 style
    out_of_order: int = 0  # UDP receiver
    transits_s: array[float] = field(default_factory=lambda: array("d"))
    omit_transit_index: int = 0  # len(transits_s) at the end of the warm-up
    error: str | None = None
    closed_by_peer: bool = False
    thread: threading.Thread | None = None


def run_worker(
    state: StreamState,
    *,
    protocol_name: str,
    length: int,
    rate_bps: int,
    counters_64bit: bool,
    done: threading.Event,
    monotonic_ns: Callable[[], int],
) -> threading.Thread:
    """Start the worker thread for ``state`` and return it."""
    target: Callable[[StreamState, int, int, bool, threading.Event, Callable[[], int]], None]
    if state.sender:
        target = _udp_send if protocol_name == "udp" else _tcp_send
    else:
        target = _udp_receive if protocol_name == "udp" else _tcp_receive
    thread = threading.Thread(
        target=_guard,
        args=(target, state, length, rate_bps, counters_64bit, done, monotonic_ns),
        name=f"iperf3-stream-{state.index}",
        daemon=True,
    )
    thread.start()
    return thread


def _guard(target: Callable[..., None], state: StreamState, *args: object) -> None:
    try:
        target(state, *args)
    except OSError as exc:
        done = args[3]
        assert isinstance(done, threading.Event)
        if not done.is_set():
            state.error = f"data stream {state.index}: {exc.strerror or exc}"


def _allowed(rate_bps: int, start_ns: int, now_ns: int, sent: int) -> bool:
    return rate_bps <= 0 or sent * 8 * 1e9 < rate_bps * (now_ns - start_ns)


def _tcp_send(
    state: StreamState,
    length: int,
    rate_bps: int,
    _c64: bool,
    done: threading.Event,
    monotonic_ns: Callable[[], int],
) -> None:
    payload = memoryview(os.urandom(length))
    sock = state.sock
    sock.settimeout(_POLL_S)
    start = monotonic_ns()
    while not done.is_set():
        if not _allowed(rate_bps, start, monotonic_ns(), state.bytes):
            time.sleep(_PACE_SLEEP_S)
            continue
        try:
            state.bytes += sock.send(payload)
        except TimeoutError:
            continue


def _tcp_receive(
    state: StreamState,
    length: int,
    _rate: int,
    _c64: bool,
    done: threading.Event,
    _mono: Callable[[], int],
) -> None:
    buffer = bytearray(max(length, 256 * 1024))
    view = memoryview(buffer)
    sock = state.sock
    sock.settimeout(_POLL_S)
    while not done.is_set():
        try:
            n = sock.recv_into(view)
        except TimeoutError:
            continue
        if n == 0:
            state.closed_by_peer = True
            return
        state.bytes += n


def _udp_send(
    state: StreamState,
    length: int,
    rate_bps: int,
    counters_64bit: bool,
    done: threading.Event,
    monotonic_ns: Callable[[], int],
) -> None:
    buffer = bytearray(os.urandom(length))
    sock = state.sock
    sock.settimeout(_POLL_S)
    start = monotonic_ns()
    while not done.is_set():
        now = monotonic_ns()
        if not _allowed(rate_bps, start, now, state.bytes):
            time.sleep(_PACE_SLEEP_S)
            continue
        count = state.packets + 1
        micros = now // 1000
        protocol.pack_udp_header(
            buffer, micros // 1_000_000, micros % 1_000_000, count, counters_64bit
        )
        try:
            sent = sock.send(buffer)
        except TimeoutError:
            continue
        except OSError as exc:
            if exc.errno != errno.ENOBUFS:  # a full device queue is back-pressure, not failure
                raise
            time.sleep(_PACE_SLEEP_S)
            continue
        state.packets = count
        state.bytes += sent


def _udp_receive(
    state: StreamState,
    length: int,
    _rate: int,
    counters_64bit: bool,
    done: threading.Event,
    monotonic_ns: Callable[[], int],
) -> None:
    buffer = bytearray(max(length, 65536))
    view = memoryview(buffer)
    sock = state.sock
    sock.settimeout(_POLL_S)
    header = protocol.udp_header_size(counters_64bit)
    kernel_stamps = _enable_kernel_timestamps(sock)
    base_us: int | None = None
    while not done.is_set():
        try:
            if kernel_stamps:
                n, ancdata, _flags, _addr = sock.recvmsg_into([view], _ANC_SIZE)
                arrival_us = _kernel_arrival_us(ancdata)  # wall clock; None: no stamp
            else:
                n = sock.recv_into(view)
                arrival_us = monotonic_ns() // 1000
        except TimeoutError:
            continue
        if n < header:
            continue  # e.g. a late connect reply; not a test datagram
        sec, usec, count = protocol.unpack_udp_header(view, counters_64bit)
        state.bytes += n
        state.received_packets += 1
        if count >= state.packets + 1:
            if count > state.packets + 1:
                state.lost += count - 1 - state.packets
            state.packets = count
        else:
            state.out_of_order += 1
            if state.lost > 0:
                state.lost -= 1
        if arrival_us is None:
            continue  # never mix clocks within one transit series
        transit_us = arrival_us - (sec * 1_000_000 + usec)
        if base_us is None:
            base_us = transit_us
        state.transits_s.append((transit_us - base_us) / 1e6)


_SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
_TIMESPEC = struct.Struct("@qq")
_ANC_SIZE = socket.CMSG_SPACE(_TIMESPEC.size)


def _enable_kernel_timestamps(sock: socket.socket) -> bool:
    """Ask for the kernel's receive time of each datagram (``SO_TIMESTAMPNS``, Linux).

    Arrival times taken in Python after ``recv`` include thread-scheduling delays that
    would read as extra jitter; the kernel stamps the datagram when it arrives.  The stamp
    is wall-clock time: only differences of transit times are used, so its offset from the
    sender's clock cancels (a clock step during a test would show as one jitter spike).
    """
    try:
        sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
    except OSError:
        return False
    return True


def _kernel_arrival_us(ancdata: list[tuple[int, int, bytes]]) -> int | None:
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(data) >= _TIMESPEC.size:
            sec, nsec = _TIMESPEC.unpack_from(data)
            return sec * 1_000_000 + nsec // 1000
    return None
