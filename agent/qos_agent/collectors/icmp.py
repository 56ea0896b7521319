"""ICMP echo collector: a fixed-rate probe stream (docs/methods.md §12.4, §12.8).

Sockets (raw when privileged, datagram ICMP when ``net.ipv4.ping_group_range`` allows),
echo requests and reply parsing are :mod:`qos_agent.collectors.icmp_wire`: one request
buffer rewritten in place and one ``unpack_from`` per reply, no object per packet, so a probe
costs little more CPU than fping's.  The timing, the send schedule and the accounting are
ours too, because a library ``ping()`` (icmplib's) is stop-and-wait, times with the wall
clock and rounds its loss figure (§12.8):

* probes leave on an absolute schedule ``t0 + i·interval`` (a stream, not stop-and-wait),
  so a slow reply never delays later probes and the stream has a known rate;
* each round trip is the kernel's receive stamp minus the kernel's transmit stamp of the
  probe (``SO_TIMESTAMPNS`` / ``SO_TIMESTAMPING``, both ``CLOCK_REALTIME``;
  :mod:`qos_agent.collectors.kernel_stamps`), so neither the encoding and system call of
  the send nor this process's wake-up delay on receipt is part of the RTT; without kernel
  stamps the monotonic clock is read just before the send call and on receipt, and the
  details record which stamps were used (``send_timestamps``, ``receive_timestamps``);
* a reply later than ``timeout`` after its probe counts as lost (RFC 6673 §2.4 Tmax);
* repeated replies for one sequence number are counted as duplicates, never as extra
  receptions (RFC 7680 §2.5: duplicates count once);
* the TTL of each reply is read from the IP header (raw) or ``IP_RECVTTL`` (datagram);
* a raw IPv4 socket asks the kernel (``ICMP_FILTER``) for echo replies and errors only, so
  it is not woken by our own requests on loopback or by other ICMP traffic.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import os
import random
import select
import socket
import struct
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from qos.records import Measurement, ProbeSample, RttResult, Status
from qos_agent.collectors import icmp_wire, kernel_stamps
from qos_agent.collectors.base import Collector, MeasureContext, ParamSpec
from qos_agent.collectors.scheduling import probe_scheduling
from qos_agent.collectors.shared_params import SCHEDULING

#: a wait up to this long is a plain sleep when kernel receive stamps time the replies;
#: longer ones wait in select() and read replies as they come.  No busy-wait before a send:
#: measured on 3000-5000 probes at 1 ms under SCHED_FIFO on a busy 2-core host, a 300 µs
#: spin cost 365 µs of CPU per probe for a send lateness of p50 3 µs / p99 352 µs, none
#: ~80 µs per probe for p50 45 µs / p99 70-130 µs; the RTT comes from kernel stamps.
_SLEEP_MAX_NS = 20_000_000
#: ... and then the socket is read after every this many sends: the stamps and replies of a
#: batch are handled in one pass (the same system calls, less interpreter work per probe)
_DRAIN_EVERY = 8
#: Linux <linux/icmp.h>: raw-socket filter of ICMP types (a set bit drops that type)
SOL_RAW, ICMP_FILTER = 255, 1
#: Linux <linux/in.h> value; Python 3.11 does not export it on every build
IP_RECVTTL = getattr(socket, "IP_RECVTTL", 12)
_MAX_TS_SLACK_NS = 1_000_000  # a kernel stamp later than our own read by more is refused
_ICMP_ERROR_TYPES_V4 = {3: "destination unreachable", 11: "time exceeded"}
_ICMP_ERROR_TYPES_V6 = {1: "destination unreachable", 3: "time exceeded"}


def ping_group_allows(
    gid_list: list[int], path: str = "/proc/sys/net/ipv4/ping_group_range"
) -> bool:
    """Whether one of ``gid_list`` is inside ``net.ipv4.ping_group_range`` (§12.4)."""
    try:
        with open(path) as fh:
            low, high = (int(x) for x in fh.read().split())
    except (OSError, ValueError):
        return False
    return any(low <= gid <= high for gid in gid_list)


def _can_open(family: int, privileged: bool) -> str | None:
    """None if an ICMP socket of that kind opens here, else the reason."""
    return icmp_wire.can_open(family, privileged)


def choose_mode(requested: str, family: int = socket.AF_INET) -> tuple[bool | None, str]:
    """Pick raw (True) or datagram (False) sockets; (None, reason) when neither works."""
    reasons = []
    if requested in ("auto", "raw"):
        problem = _can_open(family, privileged=True)
        if problem is None:
            return True, "raw ICMP socket"
        reasons.append(f"raw ICMP sockets need root or CAP_NET_RAW ({problem})")
    if requested in ("auto", "datagram"):
        problem = _can_open(family, privileged=False)
        if problem is None:
            return False, "datagram ICMP socket"
        groups = sorted({os.getegid(), *os.getgroups()})
        reasons.append(
            f"datagram ICMP sockets need net.ipv4.ping_group_range to include one of the "
            f"groups {groups} (e.g. sysctl -w net.ipv4.ping_group_range='0 2147483647') "
            f"({problem})"
        )
    return None, "; ".join(reasons)


@dataclass
class _Stream:
    """One stream's probes as parallel lists indexed by probe number, not an object per
    probe: a send appends to ``sent_ns``, a reply fills its slots."""

    count: int
    interval_ns: int
    timeout_ns: int
    t0_ns: int = 0
    kernel_ts: bool = False  # kernel receive stamps (SO_TIMESTAMPNS)
    kernel_tx: bool = False  # kernel transmit stamps (SO_TIMESTAMPING)
    #: monotonic clock read just before each send call (one entry per probe sent)
    sent_ns: list[int] = field(default_factory=list)
    rtt_ns: list[int | None] = field(default_factory=list)
    ttl: list[int | None] = field(default_factory=list)
    duplicates: list[int] = field(default_factory=list)
    #: wall clock just before and after the send call: the window a kernel stamp must fit
    tx_before_ns: list[int] = field(default_factory=list)
    tx_after_ns: list[int] = field(default_factory=list)
    tx_kernel_ns: list[int] = field(default_factory=list)  # kernel transmit stamp, 0: none
    kernel_send: bytearray = field(default_factory=bytearray)  # the RTT starts at it
    kernel_receive: bytearray = field(default_factory=bytearray)  # ends at the kernel's
    #: probe index of each successful send, in order: the ``OPT_ID`` key is the position
    tx_probe: list[int] = field(default_factory=list)
    stamps_seen: int = 0  # transmit stamps read from the error queue
    answered: int = 0
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        n = self.count
        self.rtt_ns, self.ttl, self.duplicates = [None] * n, [None] * n, [0] * n
        self.tx_before_ns, self.tx_after_ns, self.tx_kernel_ns = [0] * n, [0] * n, [0] * n
        self.kernel_send, self.kernel_receive = bytearray(n), bytearray(n)


class IcmpCollector(Collector):
    """ICMP echo probe stream with per-probe RTT, TTL and duplicate accounting."""

    name = "icmp"
    description = "ICMP echo probe stream at a fixed rate (RTT, loss, jitter, IPDV)"
    param_specs = (
        ParamSpec("count", "int", 20, "number of probes", minimum=1, maximum=100_000),
        ParamSpec(
            "interval", "duration", 0.1, "time between probe sends", minimum=0.001, maximum=3600
        ),
        ParamSpec(
            "timeout",
            "duration",
            1.0,
            "per-probe wait for a reply (Tmax)",
            minimum=0.001,
            maximum=60,
        ),
        ParamSpec("size", "size", 56, "ICMP payload bytes", minimum=0, maximum=65_000),
        ParamSpec("ttl", "int", 64, "IP TTL / hop limit of probes", minimum=1, maximum=255),
        ParamSpec("mode", "str", "auto", "socket kind", choices=("auto", "raw", "datagram")),
        ParamSpec("source", "str", "", "local address to send from (default: any)"),
        SCHEDULING,
    )

    def check(self) -> list[str]:
        privileged, reason = choose_mode("auto")
        return [] if privileged is not None else [reason]

    def measure(
        self, target: str, params: Mapping[str, Any], context: MeasureContext
    ) -> Measurement:
        attempt = self.begin(target, params, context)

        def failed(status: Status, error: str, probes: tuple[ProbeSample, ...] = ()) -> Measurement:
            result = RttResult(
                probes=probes,
                interval_s=params["interval"],
                timeout_s=params["timeout"],
                packet_size_bytes=params["size"],
            )
            return attempt.finish(status=status, result=result, error=error)

        try:
            info = socket.getaddrinfo(target, None, type=socket.SOCK_RAW, proto=socket.IPPROTO_ICMP)
            family = info[0][0]
            address = str(info[0][4][0])
        except (socket.gaierror, UnicodeError) as exc:
            # Name resolution failed: every planned probe is lost (unreachable is data).
            return failed(
                Status.UNREACHABLE, f"cannot resolve {target!r}: {exc}", _all_lost(params)
            )
        privileged, reason = choose_mode(params["mode"], family)
        if privileged is None:
            return failed(Status.ERROR, f"cannot open an ICMP socket: {reason}")
        try:
            sock = icmp_wire.open_socket(family, privileged, source=params["source"])
        except OSError as exc:
            return failed(Status.ERROR, f"cannot open an ICMP socket: {exc}")
        try:
            stream = _Stream(
                count=params["count"],
                interval_ns=int(params["interval"] * 1e9),
                timeout_ns=int(params["timeout"] * 1e9),
            )
            with probe_scheduling(params["scheduling"]) as policy:
                probe_id = self._run_stream(
                    sock, address, family, privileged, params, stream, context
                )
        finally:
            sock.close()
        samples = _samples(stream, params["size"])
        result = RttResult(
            probes=samples,
            interval_s=params["interval"],
            timeout_s=params["timeout"],
            packet_size_bytes=params["size"],
            details={
                "address": address,
                "socket": "raw" if privileged else "datagram",
                **_stamp_sources(stream),
                "scheduling": policy,
                "icmp_id": probe_id,
                "bytes_on_wire": _wire_bytes(family, params["size"], samples),
            },
        )
        received = sum(1 for s in samples if s.rtt_s is not None)
        if received:
            status, error = Status.OK, None
        elif stream.errors:
            status, error = Status.UNREACHABLE, f"{address}: {stream.errors[0]}"
        elif context.stop.is_set() and len(samples) < params["count"]:
            status, error = Status.ERROR, "stopped before any reply"
        else:
            status = Status.TIMEOUT
            error = f"no reply from {address} within {params['timeout']} s to {len(samples)} probes"
        return attempt.finish(status=status, result=result, error=error)

    def _run_stream(
        self,
        sock: socket.socket,
        address: str,
        family: int,
        privileged: bool,
        params: Mapping[str, Any],
        stream: _Stream,
        context: MeasureContext,
    ) -> int:
        clock = context.clock
        destination, writer, probe_id, seq_base = _prepare(
            sock, address, family, privileged, params, stream, clock
        )
        t0 = clock.monotonic_ns() + 1_000_000  # first probe 1 ms from now
        stream.t0_ns = t0
        drain = _Drain(sock, family, privileged, seq_base, stream, clock)
        # With kernel receive stamps a reply read late keeps its RTT, so short waits are one
        # plain sleep and replies are read in batches after a send: one wake-up per probe.
        sleep_max_ns = _SLEEP_MAX_NS if stream.kernel_ts else 0
        # the per-probe path touches locals only: it runs after every wake-up
        sent, stop, count, interval_ns = (
            stream.sent_ns,
            context.stop,
            stream.count,
            stream.interval_ns,
        )
        monotonic_ns, sleep, packet = clock.monotonic_ns, time.sleep, writer.packet
        while True:
            now = monotonic_ns()
            index = len(sent)
            if index < count and not stop.is_set():
                wait_ns = t0 + index * interval_ns - now
                if 0 < wait_ns <= sleep_max_ns:
                    sleep(wait_ns / 1e9)
                elif wait_ns > 0:
                    if select.select([sock], [], [], wait_ns / 1e9)[0]:
                        drain(probe_id)
                    continue
                _send_probe(sock, destination, packet(seq_base + index), stream, clock)
                if not privileged and index == 0:
                    # Linux datagram ICMP sockets replace the identifier with the local port
                    probe_id = sock.getsockname()[1] or probe_id
                if not sleep_max_ns or index % _DRAIN_EVERY == _DRAIN_EVERY - 1:
                    drain(probe_id)
                continue
            deadline = (sent[-1] if sent else now) + stream.timeout_ns
            if now >= deadline or stream.answered == index:
                drain(probe_id, everything=True)  # duplicates already here count
                break
            if select.select([sock], [], [], (deadline - now) / 1e9)[0]:
                drain(probe_id)
        return probe_id


def _prepare(
    sock: socket.socket,
    address: str,
    family: int,
    privileged: bool,
    params: Mapping[str, Any],
    stream: _Stream,
    clock: Any,
) -> tuple[Any, icmp_wire.EchoWriter, int, int]:
    """Configure the socket and the stream's stamps; (destination, writer, identifier,
    first sequence number)."""
    _configure_socket(sock, family == socket.AF_INET, privileged, params["ttl"])
    # Kernel stamps are wall-clock (CLOCK_REALTIME) instants: only with the real clock,
    # never with an injected test clock.
    if clock.monotonic_ns is time.monotonic_ns:
        stream.kernel_ts = kernel_stamps.enable_receive_stamps(sock)
        stream.kernel_tx = stream.kernel_ts and kernel_stamps.enable_send_stamps(sock)
    destination = socket.getaddrinfo(address, None, family=family, type=sock.type)[0][4]
    probe_id = random.randrange(1, 0xFFFF)
    writer = icmp_wire.EchoWriter(family, probe_id, os.urandom(params["size"]), privileged)
    seq_base = random.randrange(0, 0x10000)  # sequence numbers modulo 2^16 on the wire
    return destination, writer, probe_id, seq_base


def _configure_socket(sock: socket.socket, v4: bool, privileged: bool, ttl: int) -> None:
    """Non-blocking; TTL / Hop Limit of the probes; reply TTL as ancillary data; a raw IPv4
    socket receives only echo replies and the errors that quote a request."""
    sock.setblocking(False)
    if v4:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
        if not privileged:
            sock.setsockopt(socket.IPPROTO_IP, IP_RECVTTL, 1)
        else:
            wanted = (1 << 0) | (1 << 3) | (1 << 11)  # echo reply, unreachable, time exceeded
            # if refused, the socket stays unfiltered: _Drain skips what is not a reply
            with contextlib.suppress(OSError):
                sock.setsockopt(SOL_RAW, ICMP_FILTER, struct.pack("I", ~wanted & 0xFFFFFFFF))
    else:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, ttl)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVHOPLIMIT, 1)


def _send_probe(
    sock: socket.socket, destination: Any, packet: bytes | bytearray, stream: _Stream, clock: Any
) -> None:
    """Send the next encoded echo request; the clock is read right before the system call.

    A successful send is given the next ``OPT_ID`` key, under which the kernel reports its
    transmit stamp (:func:`kernel_stamps.read_send_stamps`).  A failed send stays a probe
    (lost) and its error is kept.
    """
    index = len(stream.sent_ns)
    stream.sent_ns.append(clock.monotonic_ns())
    before_ns = time.time_ns() if stream.kernel_tx else 0
    try:
        sock.sendto(packet, destination)
    except OSError as exc:
        stream.errors.append(f"send failed: {str(exc) or type(exc).__name__}")
        return
    if stream.kernel_tx:
        stream.tx_after_ns[index] = time.time_ns()
        stream.tx_before_ns[index] = before_ns
        stream.tx_probe.append(index)


class _Drain:
    """Reads everything waiting on the socket: transmit stamps first, then replies, into
    one reused buffer (``recvmsg_into``)."""

    def __init__(
        self,
        sock: socket.socket,
        family: int,
        privileged: bool,
        seq_base: int,
        stream: _Stream,
        clock: Any,
    ) -> None:
        self.sock = sock
        self.family = family
        v4 = family == socket.AF_INET
        self.v4 = v4
        self.reply_type = icmp_wire.ECHO_REPLY[family]
        self.privileged = privileged
        self.seq_base = seq_base
        self.stream = stream
        self.clock = clock
        self.errors = _ICMP_ERROR_TYPES_V4 if v4 else _ICMP_ERROR_TYPES_V6
        self.view = memoryview(bytearray(65535))
        self.buffers = [self.view]

    def __call__(self, probe_id: int, *, everything: bool = False) -> None:
        """Read stamps and replies.  While the stream runs, reading stops once every probe
        sent is answered (a duplicate still queued is read with the next probe's reply);
        ``everything``: until the socket is empty."""
        stream = self.stream
        if stream.kernel_tx and stream.stamps_seen < len(stream.tx_probe):  # stamps owed
            self._send_stamps()
        wall_minus_mono_ns = time.time_ns() - time.monotonic_ns() if stream.kernel_ts else 0
        receive, buffers, now = self.sock.recvmsg_into, self.buffers, self.clock.monotonic_ns
        sent, rtts, stamped = stream.sent_ns, stream.rtt_ns, stream.kernel_ts
        while everything or stream.answered < len(sent):
            try:
                size, ancdata, _flags, source = receive(buffers, 256)
            except BlockingIOError:
                return
            except OSError as exc:
                if exc.errno in (errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH):
                    stream.errors.append(os.strerror(exc.errno or 0))
                    continue
                return
            received_ns = now()
            reply = icmp_wire.parse_reply(self.view[:size], self.family, self.privileged)
            if reply is None:
                continue
            index = (reply[3] - self.seq_base) & 0xFFFF  # _match, inline: run per reply
            if index >= len(sent) or reply[0] != self.reply_type or reply[2] != probe_id:
                matched = self._match(reply, source, probe_id)
                if matched is None:
                    continue
                index = matched
            if rtts[index] is not None:
                stream.duplicates[index] += 1
                continue
            kernel_wall_ns = kernel_stamps.receive_stamp_ns(ancdata) if stamped else None
            rtt_ns = _round_trip(stream, index, received_ns, kernel_wall_ns, wall_minus_mono_ns)
            if rtt_ns > stream.timeout_ns:
                continue  # arrived after Tmax: lost by definition (RFC 6673 §2.4)
            rtts[index] = rtt_ns
            stream.answered += 1
            ttl = reply[4] if reply is not None else None
            stream.ttl[index] = ttl if ttl is not None else _reply_ttl(ancdata, self.v4)

    def _match(
        self, reply: tuple[int, int, int, int, int | None] | None, source: Any, probe_id: int
    ) -> int | None:
        """The index of the probe an echo reply answers; ICMP errors are recorded; None for
        the rest."""
        if reply is None:
            return None
        kind, code, ident, sequence, _ttl = reply
        if self.privileged and ident != probe_id:
            return None  # another process's ping on the shared raw socket
        index = (sequence - self.seq_base) & 0xFFFF
        if index >= len(self.stream.sent_ns):
            return None
        if kind in self.errors:
            self.stream.errors.append(f"{self.errors[kind]} (code {code}) from {source[0]}")
            return None
        if kind != self.reply_type:
            return None  # our own echo request seen on a raw socket, or other ICMP
        return index

    def _send_stamps(self) -> None:
        """Attach each kernel transmit stamp to its probe, if it fits the send call's window.

        The stamp is taken inside the send call or, if a local queue held the packet, after
        it; one that is earlier than the call or more than ``_MAX_TS_SLACK_NS`` after it
        belongs to no probe we know and is refused.
        """
        stream = self.stream
        owed = len(stream.tx_probe) - stream.stamps_seen
        for key, stamp_ns in kernel_stamps.read_send_stamps(self.sock, owed):
            stream.stamps_seen += 1
            if key >= len(stream.tx_probe):
                continue
            index = stream.tx_probe[key]
            before_ns, after_ns = stream.tx_before_ns[index], stream.tx_after_ns[index]
            if before_ns <= stamp_ns <= after_ns + _MAX_TS_SLACK_NS:
                stream.tx_kernel_ns[index] = stamp_ns


def _round_trip(
    stream: _Stream,
    index: int,
    received_ns: int,
    kernel_wall_ns: int | None,
    wall_minus_mono_ns: int,
) -> int:
    """RTT of one reply from the best stamps available, recording which were used.

    Kernel receive and transmit stamps: their difference (one clock, no conversion).
    Kernel receive stamp only: converted to the monotonic clock and taken from the send
    stamp.  A kernel receive stamp before the send or later than our own read (plus
    ``_MAX_TS_SLACK_NS``) is refused and the user-space receive instant used.
    """
    sent_ns = stream.sent_ns[index]
    if kernel_wall_ns is None:
        return received_ns - sent_ns
    kernel_ns = kernel_wall_ns - wall_minus_mono_ns
    if not sent_ns <= kernel_ns <= received_ns + _MAX_TS_SLACK_NS:
        return received_ns - sent_ns
    stream.kernel_receive[index] = 1
    tx_kernel_ns = stream.tx_kernel_ns[index]
    if tx_kernel_ns and tx_kernel_ns <= kernel_wall_ns:
        stream.kernel_send[index] = 1
        return kernel_wall_ns - tx_kernel_ns
    return min(kernel_ns, received_ns) - sent_ns


def _samples(stream: _Stream, size: int) -> tuple[ProbeSample, ...]:
    """The record's probes, in send order."""
    t0 = stream.t0_ns
    # the per-probe slots are allocated for every planned probe; only sent ones are reported
    rows = zip(stream.sent_ns, stream.rtt_ns, stream.ttl, stream.duplicates, strict=False)
    return tuple(
        ProbeSample(
            seq=i,
            send_offset_s=(sent_ns - t0) / 1e9,
            rtt_s=None if rtt_ns is None else rtt_ns / 1e9,
            ttl=ttl,
            duplicates=dups,
            size_bytes=size,
        )
        for i, (sent_ns, rtt_ns, ttl, dups) in enumerate(rows)
    )


def _stamp_sources(stream: _Stream) -> dict[str, str]:
    """Which clock readings the reported RTTs start and end at (measurement details)."""
    answered = [i for i in range(len(stream.sent_ns)) if stream.rtt_ns[i] is not None]

    def source(kernel: int) -> str:
        if answered and kernel == len(answered):
            return "kernel"
        if kernel == 0:
            return "user space"
        return f"kernel for {kernel} of {len(answered)} replies, else user space"

    return {
        "send_timestamps": source(sum(stream.kernel_send[i] for i in answered)),
        "receive_timestamps": source(sum(stream.kernel_receive[i] for i in answered)),
    }


def _reply_ttl(ancdata: list[tuple[int, int, bytes]], v4: bool) -> int | None:
    """The reply's TTL / Hop Limit from ancillary data (datagram and IPv6 sockets)."""
    for level, kind, data in ancdata:
        if v4 and level == socket.IPPROTO_IP and kind == socket.IP_TTL and data:
            return int.from_bytes(data[:4], "little") if len(data) >= 4 else data[0]
        if not v4 and level == socket.IPPROTO_IPV6 and kind == socket.IPV6_HOPLIMIT and data:
            return int.from_bytes(data[:4], "little")
    return None


def _all_lost(params: Mapping[str, Any]) -> tuple[ProbeSample, ...]:
    return tuple(
        ProbeSample(
            seq=i, send_offset_s=i * params["interval"], rtt_s=None, size_bytes=params["size"]
        )
        for i in range(params["count"])
    )


def _wire_bytes(family: int, size: int, samples: tuple[ProbeSample, ...]) -> int:
    header = 20 + 8 if family == socket.AF_INET else 40 + 8
    replies = sum(1 + s.duplicates for s in samples if s.rtt_s is not None)
    return (len(samples) + replies) * (header + size)


def is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False
