"""Stateful STAMP Session-Reflector (RFC 8762 §4.3; docs/methods.md §7.3–7.4).

Two layers, so that the protocol logic is testable with arbitrary bytes:

* :class:`Reflector` — pure datagram handling: ``handle(data, source, ttl, T2) → reply``.
  It keeps one session per (source address, source port, SSID) with its own sequence
  counter from 0 (stateful mode, so the sender can separate forward from backward loss),
  expires sessions silent for ``refwait_s`` (REFWAIT, RFC 5357 §4.2: default 900 s),
  rate-limits per source *address* with a token bucket, and **never answers with more
  octets than it received** (no amplification): packets shorter than the 41-octet
  TWAMP-Light minimum get no reply, 41–43 octets get a same-size TWAMP-Light reflection,
  ≥ 44 octets a same-size STAMP reflection carrying the sender's octets beyond 44.
* :class:`ReflectorServer` — a UDP socket that feeds it, reading the received TTL/Hop Limit
  (``IP_RECVTTL``/``IPV6_RECVHOPLIMIT``) and the kernel receive timestamp
  (``SO_TIMESTAMPNS``, so T2 excludes user-space scheduling delay) from ancillary data, and
  sending replies with TTL 255 (RFC 5357 §4.2).  Binds loopback unless told otherwise.

A packet dropped by the rate limiter is not counted in its session: the sender sees it as
forward loss, which is where the loss happened from its point of view.
"""

from __future__ import annotations

import errno
import logging
import select
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from qos_agent.reference import RunningService
from qos_agent.stamp.clock import CachedClockState, ClockState
from qos_agent.stamp.codec import (
    BASE_SIZE,
    MAX_SIZE,
    TWAMP_LIGHT_MIN_SIZE,
    ReflectorPacket,
    decode_sender,
    ntp_from_unix_ns,
)
from qos_agent.stamp.net import (
    Address,
    open_udp_socket,
    receive,
)

log = logging.getLogger(__name__)

DEFAULT_PORT = 862  # RFC 8762 §4.1 / RFC 8545
REFWAIT_S = 900.0  # RFC 5357 §4.2 default


@dataclass(frozen=True, slots=True)
class ReflectorConfig:
    """Abuse limits of a reflector; defaults suit a probe target on a home line."""

    rate_limit_pps: float = 1000.0  # per source address
    burst: int = 200  # token-bucket depth, packets
    refwait_s: float = REFWAIT_S
    max_sessions: int = 4096  # least recently used sessions are evicted beyond this
    max_sources: int = 4096  # rate-limiter buckets kept (LRU)

    def __post_init__(self) -> None:
        if not self.rate_limit_pps > 0 or self.burst < 1:
            raise ValueError("rate limit and burst must be positive")
        if not self.refwait_s > 0 or self.max_sessions < 1 or self.max_sources < 1:
            raise ValueError("refwait, max_sessions and max_sources must be positive")


@dataclass(slots=True)
class ReflectorStats:
    """Counters for logs and tests."""

    received: int = 0
    reflected: int = 0
    too_short: int = 0
    too_long: int = 0
    rate_limited: int = 0
    sessions_expired: int = 0
    sessions_evicted: int = 0
    errors: int = 0


@dataclass(slots=True)
class _Session:
    next_seq: int = 0
    last_seen_s: float = 0.0


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated_s: float


@dataclass
class Reflector:
    """Pure per-datagram logic of a stateful Session-Reflector (no sockets)."""

    config: ReflectorConfig = field(default_factory=ReflectorConfig)
    monotonic_s: Callable[[], float] = time.monotonic
    wall_ns: Callable[[], int] = time.time_ns
    clock_state: Callable[[], ClockState] = field(default_factory=CachedClockState)
    stats: ReflectorStats = field(default_factory=ReflectorStats)

    def __post_init__(self) -> None:
        self._sessions: OrderedDict[tuple[str, int, int], _Session] = OrderedDict()
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def session_count(self) -> int:
        return len(self._sessions)

    def handle(
        self, data: bytes, source: Address, ttl: int | None, receive_ns: int | None = None
    ) -> bytes | None:
        """Reply to one datagram, or ``None`` to stay silent.  Never raises on bad input.

        ``receive_ns`` is T2 as Unix nanoseconds (kernel timestamp if available);
        ``ttl`` is the received TTL/Hop Limit, ``None`` if unknown (then 255 is written,
        RFC 5357 §4.2.1).
        """
        t2_ns = self.wall_ns() if receive_ns is None else receive_ns
        now = self.monotonic_s()
        with self._lock:
            self.stats.received += 1
            if len(data) < TWAMP_LIGHT_MIN_SIZE:
                self.stats.too_short += 1
                return None
            if len(data) > MAX_SIZE:
                self.stats.too_long += 1
                return None
            if not self._take_token(source[0], now):
                self.stats.rate_limited += 1
                return None
            probe = decode_sender(data)
            session = self._session((source[0], source[1], probe.ssid), now)
            seq = session.next_seq
            session.next_seq = (session.next_seq + 1) & 0xFFFFFFFF
            self.stats.reflected += 1
        error_estimate = self.clock_state().error_estimate().encode()
        reply = ReflectorPacket(
            seq=seq,
            timestamp=0,
            error_estimate=error_estimate,
            ssid=probe.ssid,
            receive_timestamp=ntp_from_unix_ns(t2_ns),
            sender_seq=probe.seq,
            sender_timestamp=probe.timestamp,
            sender_error_estimate=probe.error_estimate,
            sender_ttl=255 if ttl is None or not 0 <= ttl <= 255 else ttl,
            size=len(data),
        )
        # T3 as late as possible: the residence time (T3 − T2) is removed from the RTT
        t3 = ntp_from_unix_ns(self.wall_ns())
        return _with_timestamp(reply, t3).encode(tail=data[BASE_SIZE:])

    # ------------------------------------------------------------------ internals
    def _take_token(self, address: str, now: float) -> bool:
        cfg = self.config
        bucket = self._buckets.get(address)
        if bucket is None:
            bucket = _Bucket(tokens=float(cfg.burst), updated_s=now)
            self._buckets[address] = bucket
            while len(self._buckets) > cfg.max_sources:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(address)
            elapsed = max(0.0, now - bucket.updated_s)
            bucket.tokens = min(float(cfg.burst), bucket.tokens + elapsed * cfg.rate_limit_pps)
            bucket.updated_s = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return True
        return False

    def _session(self, key: tuple[str, int, int], now: float) -> _Session:
        self._expire(now)
        session = self._sessions.get(key)
        if session is None:
            session = _Session()
            self._sessions[key] = session
            while len(self._sessions) > self.config.max_sessions:
                self._sessions.popitem(last=False)
                self.stats.sessions_evicted += 1
        else:
            self._sessions.move_to_end(key)
        session.last_seen_s = now
        return session

    def _expire(self, now: float) -> None:
        """Drop sessions silent for REFWAIT; LRU order makes this O(expired)."""
        limit = now - self.config.refwait_s
        while self._sessions:
            key, oldest = next(iter(self._sessions.items()))
            if oldest.last_seen_s > limit:
                break
            del self._sessions[key]
            self.stats.sessions_expired += 1


def _with_timestamp(packet: ReflectorPacket, t3: int) -> ReflectorPacket:
    return ReflectorPacket(
        packet.seq,
        t3,
        packet.error_estimate,
        packet.ssid,
        packet.receive_timestamp,
        packet.sender_seq,
        packet.sender_timestamp,
        packet.sender_error_estimate,
        packet.sender_ttl,
        packet.size,
    )


class ReflectorServer:
    """Serves a :class:`Reflector` on a UDP socket until :meth:`stop` (or the stop event)."""

    def __init__(
        self, bind: str = "127.0.0.1", port: int = DEFAULT_PORT, reflector: Reflector | None = None
    ) -> None:
        self.reflector = reflector if reflector is not None else Reflector()
        self.sock = open_udp_socket(bind, port)
        host, bound_port = self.sock.getsockname()[:2]
        self._address: Address = (host, bound_port)
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> Address:
        return self._address

    @property
    def target(self) -> str:
        host, port = self.address
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    def serve(self) -> None:
        """Loop until stopped; one bad datagram or a send error never ends the loop."""
        while not self.stopping.is_set():
            try:
                readable, _, _ = select.select([self.sock], [], [], 0.2)
            except (OSError, ValueError):
                return  # socket closed under us
            if not readable:
                continue
            try:
                data, source, ttl, stamp_ns = receive(self.sock)
            except BlockingIOError:
                continue
            except OSError as exc:
                if exc.errno in {errno.EBADF, errno.ENOTSOCK}:
                    return
                continue  # e.g. ICMP error from a previous reply (ECONNREFUSED)
            try:
                reply = self.reflector.handle(data, source, ttl, stamp_ns)
            except Exception:  # a bug must not take the service down: log it, keep serving
                log.exception(
                    "reflector failed on a %d-octet datagram from %s", len(data), source[0]
                )
                self.reflector.stats.errors += 1
                continue
            if reply is None:
                continue
            try:
                self.sock.sendto(reply, source)
            except OSError:
                continue

    def start(self) -> ReflectorServer:
        self._thread = threading.Thread(target=self.serve, name="qos-stamp-reflector", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self.sock.close()

    def __enter__(self) -> ReflectorServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_reference_reflector(bind: str = "127.0.0.1") -> RunningService:
    """Reference service ``@reference/stamp``: a reflector thread on an ephemeral port."""
    server = ReflectorServer(bind, 0).start()
    return RunningService(target=server.target, stop=server.stop)
