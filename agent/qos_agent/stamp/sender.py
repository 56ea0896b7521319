"""STAMP Session-Sender engine (RFC 8762 §4.2, RFC 5357 §4.1.2).

:class:`StampSender` owns one connected UDP socket (so only the target's address/port can
answer, and ICMP port-unreachable surfaces as ``ECONNREFUSED``), sends test packets with
TTL 255 (RFC 5357 §4.1.2) and collects replies.  A reply is accepted only if it belongs to
this session: the copied Session-Sender sequence number was sent by us, the copied T1 is
the timestamp we sent with it (within 2 µs, for reflectors that round it), and its SSID is
ours (or 0, from a reflector that does not echo RFC 8972 SSIDs).  Replies are accepted from
36 octets up: TWAMP-Light responders in the field omit the trailing MBZ and Ses-Sender TTL
(38 octets) or also the Ses-Sender Error Estimate (36) — the fields they leave out are
``None`` in the record, never 0.  Everything else is counted as ``discarded``.

Clocks: the wire timestamps T1..T3 are NTP from wall time, but the round-trip time uses the
**monotonic** clock for T4 − T1 (immune to clock steps) minus the reflector residence
T3 − T2 (a difference on the reflector's single clock):  RTT = (T4 − T1) − (T3 − T2).
The reply's arrival instant is the kernel receive timestamp (``SO_TIMESTAMPNS``) carried
over to the monotonic clock by its (tiny) age, so scheduling delay of this process under
load does not inflate the RTT.  One-way delays T2 − T1 and T4 − T3 compare two hosts'
clocks and are flagged valid only when both Error Estimates carry S = 1.

The metrics are computed by :func:`qos_agent.stamp.analysis.analyse`.
"""

from __future__ import annotations

import errno
import select
import socket
import time
from collections.abc import Callable
from typing import Any

from qos_agent.stamp.analysis import Reply, SentProbe
from qos_agent.stamp.clock import ClockState
from qos_agent.stamp.codec import (
    BASE_SIZE,
    SenderPacket,
    StampDecodeError,
    decode_reflector,
    ntp_diff_s,
    ntp_from_unix_ns,
)
from qos_agent.stamp.net import enable_receive_metadata, receive, set_send_ttl

#: how far a reflector's copy of T1 may be from what we sent; some implementations round
#: timestamps through floats (Scapy's STAMP fields: ~1e-6 s), an unrelated packet is
#: off by far more.  RTT never uses the copy (it uses our own monotonic T1).
T1_COPY_TOLERANCE_S = 2e-6


class StampSender:
    """One STAMP test session from this host to ``target`` (a numeric sockaddr)."""

    def __init__(
        self,
        target: tuple[Any, ...],
        family: int,
        *,
        ssid: int,
        size: int = BASE_SIZE,
        dscp: int = 0,
        clock_state: ClockState,
        monotonic_ns: Callable[[], int] = time.monotonic_ns,
        wall_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self.ssid = ssid
        self.size = size
        self.clock_state = clock_state
        self._error_estimate = clock_state.error_estimate().encode()
        self._mono = monotonic_ns
        self._wall = wall_ns
        self.sent: dict[int, SentProbe] = {}
        self.replies: dict[int, list[Reply]] = {}
        self.discarded = 0
        self.refused = False
        self.ssid_echoed: bool | None = None
        self.start_mono_ns = monotonic_ns()
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            set_send_ttl(self.sock, 255)
            if dscp:
                if family == socket.AF_INET6:
                    self.sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_TCLASS, dscp << 2)
                else:
                    self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, dscp << 2)
            enable_receive_metadata(self.sock)
            self.sock.connect(target)
            self.sock.setblocking(False)
        except OSError:
            self.sock.close()
            raise

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> StampSender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ sending
    def send(self, seq: int) -> SentProbe:
        """Send test packet ``seq`` and remember it (a probe that could not leave is lost).

        Linux reports an earlier ICMP error (port/host unreachable) on the next socket call
        and then clears it, so one refused ``send`` is retried once: the probe must not
        vanish from the record because a *previous* packet bounced.
        """
        wall_ns, mono_at_wall = self._clock_pair()
        t1 = ntp_from_unix_ns(wall_ns)
        data = SenderPacket(
            seq & 0xFFFFFFFF, t1, self._error_estimate, self.ssid, size=self.size
        ).encode()
        mono_ns = self._mono()
        for _attempt in range(2):
            try:
                self.sock.send(data)
                break
            except OSError as exc:
                if exc.errno in {errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH}:
                    self.refused = True
                    continue
                if exc.errno in {errno.EAGAIN, errno.ENOBUFS}:
                    break  # dropped by the local stack: a sent-and-lost probe
                raise
        probe = SentProbe(
            seq,
            t1,
            wall_ns + (mono_ns - mono_at_wall),
            mono_ns,
            (mono_ns - self.start_mono_ns) / 1e9,
            self.size,
        )
        self.sent[seq & 0xFFFFFFFF] = probe
        return probe

    # ------------------------------------------------------------------ receiving
    def poll(self, timeout_s: float) -> int:
        """Wait up to ``timeout_s`` for replies and drain them; returns how many were read."""
        try:
            readable, _, _ = select.select([self.sock], [], [], max(0.0, timeout_s))
        except InterruptedError:
            return 0
        if not readable:
            return 0
        count = 0
        while True:
            try:
                data, _source, ttl, stamp_ns = receive(self.sock)
            except (BlockingIOError, InterruptedError):
                return count
            except OSError as exc:
                if exc.errno in {errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH}:
                    self.refused = True
                    continue
                raise
            now_wall, arrival = self._clock_pair()
            if stamp_ns is not None:
                age_ns = now_wall - stamp_ns
                if 0 <= age_ns < 1_000_000_000:  # sane kernel stamp: carry it over
                    arrival -= age_ns
            count += 1
            self._accept(data, arrival, ttl)

    def _clock_pair(self) -> tuple[int, int]:
        """(wall ns, monotonic ns) of one instant: the tightest of three bracketed reads.

        A preemption between the two reads would shift a kernel timestamp carried over to
        the monotonic clock by the length of the preemption (milliseconds under load).
        """
        best: tuple[int, int, int] | None = None
        for _ in range(3):
            before = self._mono()
            wall = self._wall()
            after = self._mono()
            if best is None or after - before < best[0]:
                best = (after - before, wall, (before + after) // 2)
            if after - before < 20_000:
                break
        assert best is not None
        return best[1], best[2]

    def _accept(self, data: bytes, t4_mono_ns: int, ttl: int | None) -> None:
        try:
            packet = decode_reflector(data)
        except StampDecodeError:
            self.discarded += 1
            return
        probe = self.sent.get(packet.sender_seq)
        if (
            probe is None
            or abs(ntp_diff_s(packet.sender_timestamp, probe.t1_ntp)) > T1_COPY_TOLERANCE_S
            or packet.ssid not in {self.ssid, 0}
            or t4_mono_ns < probe.t1_mono_ns
        ):
            self.discarded += 1
            return
        if self.ssid:
            self.ssid_echoed = packet.ssid == self.ssid
        self.replies.setdefault(packet.sender_seq, []).append(Reply(packet, t4_mono_ns, ttl))

    def outstanding(self) -> int:
        return sum(1 for seq in self.sent if seq not in self.replies)
