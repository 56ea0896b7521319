"""STAMP Session-Reflector, stateful or stateless (RFC 8762 §4.3, RFC 5357 §4.2 and App. I).

Two layers, so that the protocol logic is testable with arbitrary bytes:

* :class:`Reflector` — pure datagram handling: ``handle(data, source, ttl, T2) → reply``.
  In **stateful** mode (the default) it keeps one session per (source address, source
  port, SSID) with its own sequence counter from 0, so the sender can separate forward
  from backward loss, and expires sessions silent for ``refwait_s`` (REFWAIT, RFC 5357
  §4.2: default 900 s).  One source address holds at most ``max_sessions_per_source``
  sessions (below the global ``max_sessions``), so a flood of new ports or SSIDs from one
  address evicts only its own sessions, never another sender's counter.  In **stateless**
  mode it copies the sender's sequence number into its own (RFC 8762 §4.2, RFC 5357
  App. I) and keeps no session.  Either way it
  rate-limits per source *address* with a token bucket.
* :class:`ReflectorServer` — a UDP socket that feeds it, reading the received TTL/Hop Limit
  (``IP_RECVTTL``/``IPV6_RECVHOPLIMIT``) and the kernel receive timestamp
  (``SO_TIMESTAMPNS``, so T2 excludes user-space scheduling delay) from ancillary data, and
  sending replies with TTL 255 (RFC 5357 §4.2).  Binds loopback unless told otherwise.

Reply sizes (no amplification):

* by default only requests of **44 octets and more** are answered (RFC 8762 §4.2.1 base
  packet or longer), with a same-size STAMP reflection carrying the sender's octets beyond
  44 (RFC 8762 §4.3).  Shorter requests get **no reply**: a 14-octet unpadded TWAMP-Light
  request (RFC 5357 §4.1.2) would need at least the 41-octet reflector packet, a threefold
  amplification that a spoofed source could aim at a victim, and a 41–43-octet request is
  answered only by choice too, so that one rule covers every short request.  They are
  counted (``too_short``) and logged once per source and minute with the option that
  answers them;
* with ``accept_short`` a request of 14–43 octets (the unpadded TWAMP-Light head and
  more) is answered under a separate, stricter per-source rate limit: 14–40 octets get the
  44-octet base reflection (RFC 8762 §4.3 base packet; it holds every RFC 5357 §4.2.1
  field, the Ses-Sender TTL included), 41–43 octets (a padded TWAMP-Light sender,
  RFC 5357 §4.1.2) a same-size TWAMP-Light reflection.  So the bound over every request
  is ``len(reply) ≤ max(len(request), 44)``; below 14 octets nothing is ever answered.

A packet dropped by the rate limiter is not counted in its session: the sender sees it as
forward loss, which is where the loss happened from its point of view.
"""

from __future__ import annotations

import errno
import ipaddress
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
    SENDER_HEAD_SIZE,
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
MODES = ("stateful", "stateless")  # RFC 8762 §4.2
#: at most one "ignored short requests" notice per source address in this many seconds
SHORT_NOTICE_INTERVAL_S = 60.0
ACCEPT_SHORT_OPTION = "--accept-short"


@dataclass(frozen=True, slots=True)
class ReflectorConfig:
    """Mode and abuse limits of a reflector; defaults suit a probe target on a home line.

    ``accept_short`` answers requests of 14–43 octets (14–40 with a 44-octet reply, 41–43 at
    their own size); those replies
    also spend a token of a per-source bucket of ``short_rate_limit_pps`` / ``short_burst``
    (the amplification is bounded by rate, not only by size).
    """

    rate_limit_pps: float = 1000.0  # per source address
    burst: int = 200  # token-bucket depth, packets
    refwait_s: float = REFWAIT_S
    max_sessions: int = 4096  # least recently used sessions are evicted beyond this
    #: sessions one source address may hold (None: max_sessions // 16); beyond it that
    #: address's own least recently used session goes, never another sender's
    max_sessions_per_source: int | None = None
    max_sources: int = 4096  # rate-limiter buckets and notice slots kept (LRU)
    mode: str = "stateful"
    accept_short: bool = False
    short_rate_limit_pps: float = 100.0  # per source address, short requests only
    short_burst: int = 20

    @property
    def sessions_per_source(self) -> int:
        """The effective per-address session limit (below ``max_sessions``)."""
        if self.max_sessions_per_source is not None:
            return self.max_sessions_per_source
        return max(1, self.max_sessions // 16)

    def __post_init__(self) -> None:
        if not self.rate_limit_pps > 0 or self.burst < 1:
            raise ValueError("rate limit and burst must be positive")
        if not self.short_rate_limit_pps > 0 or self.short_burst < 1:
            raise ValueError("short-request rate limit and burst must be positive")
        if not self.refwait_s > 0 or self.max_sessions < 1 or self.max_sources < 1:
            raise ValueError("refwait, max_sessions and max_sources must be positive")
        per_source = self.max_sessions_per_source
        if per_source is not None and not 0 < per_source <= self.max_sessions:
            raise ValueError("max_sessions_per_source must lie in 1..max_sessions")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")


@dataclass(slots=True)
class ReflectorStats:
    """Mode and counters for logs and tests.

    ``too_short`` counts requests below 44 octets left unanswered (all of them by default;
    with ``accept_short`` those below 14); ``short_answered`` those of 14–43 octets answered
    under ``accept_short`` (also counted in ``reflected``).
    """

    mode: str = "stateful"
    received: int = 0
    reflected: int = 0
    too_short: int = 0
    short_answered: int = 0
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


@dataclass(slots=True)
class _Notice:
    """Short requests from one source since its last log line."""

    logged_s: float
    ignored: int = 0
    smallest: int = 0
    largest: int = 0


@dataclass
class Reflector:
    """Pure per-datagram logic of a STAMP Session-Reflector (no sockets)."""

    config: ReflectorConfig = field(default_factory=ReflectorConfig)
    monotonic_s: Callable[[], float] = time.monotonic
    wall_ns: Callable[[], int] = time.time_ns
    clock_state: Callable[[], ClockState] = field(default_factory=CachedClockState)
    stats: ReflectorStats = field(default_factory=ReflectorStats)

    def __post_init__(self) -> None:
        self._sessions: OrderedDict[tuple[str, int, int], _Session] = OrderedDict()
        # per source address: its session keys, least recently used first
        self._by_source: dict[str, OrderedDict[tuple[str, int, int], None]] = {}
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._short_buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._notices: OrderedDict[str, _Notice] = OrderedDict()
        self._lock = threading.Lock()
        self.stats.mode = self.config.mode

    @property
    def session_count(self) -> int:
        return len(self._sessions)

    def handle(
        self, data: bytes, source: Address, ttl: int | None, receive_ns: int | None = None
    ) -> bytes | None:
        """Reply to one datagram, or ``None`` to stay silent.  Never raises on bad input.

        ``receive_ns`` is T2 as Unix nanoseconds (kernel timestamp if available);
        ``ttl`` is the received TTL/Hop Limit, ``None`` if unknown (then 255 is written,
        RFC 5357 §4.2.1).  The reply has the request's size, or 44 octets for a 14–40-octet
        request under ``accept_short`` (see the module docstring for the size bounds).
        """
        t2_ns = self.wall_ns() if receive_ns is None else receive_ns
        now = self.monotonic_s()
        with self._lock:
            self.stats.received += 1
            verdict = self._admit(len(data), source[0], now)
            if verdict is True:
                probe = decode_sender(data, min_size=SENDER_HEAD_SIZE)
                seq = self._reflector_seq(probe.seq, (source[0], source[1], probe.ssid), now)
                self.stats.reflected += 1
        if isinstance(verdict, str):
            log.warning("%s", verdict)
        if verdict is not True:
            return None
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
            # a short request admitted under accept_short gets the base packet, others their size
            size=BASE_SIZE if len(data) < TWAMP_LIGHT_MIN_SIZE else len(data),
        )
        # T3 as late as possible: the residence time (T3 − T2) is removed from the RTT
        t3 = ntp_from_unix_ns(self.wall_ns())
        return _with_timestamp(reply, t3).encode(tail=data[BASE_SIZE:])

    # ------------------------------------------------------------------ internals
    def _admit(self, size: int, address: str, now: float) -> bool | str:
        """Size and rate checks (under the lock): True to answer, False or a log line not to.

        A string is the once-per-minute notice about ignored short requests from
        ``address``; the caller logs it outside the lock.
        """
        cfg = self.config
        short = size < BASE_SIZE
        if short and (not cfg.accept_short or size < SENDER_HEAD_SIZE):
            self.stats.too_short += 1
            if size < SENDER_HEAD_SIZE:
                return False  # not a test packet in any format: nothing would answer it
            return self._short_notice(address, size, now) or False
        if size > MAX_SIZE:
            self.stats.too_long += 1
            return False
        if not self._take_token(self._buckets, address, now, cfg.rate_limit_pps, cfg.burst):
            self.stats.rate_limited += 1
            return False
        if short:
            rate, burst = cfg.short_rate_limit_pps, cfg.short_burst
            if not self._take_token(self._short_buckets, address, now, rate, burst):
                self.stats.rate_limited += 1
                return False
            self.stats.short_answered += 1
        return True

    def _reflector_seq(self, sender_seq: int, key: tuple[str, int, int], now: float) -> int:
        """Stateless: the sender's number (RFC 8762 §4.2); stateful: the session's counter."""
        if self.config.mode == "stateless":
            return sender_seq
        session = self._session(key, now)
        seq = session.next_seq
        session.next_seq = (session.next_seq + 1) & 0xFFFFFFFF
        return seq

    def _short_notice(self, address: str, size: int, now: float) -> str | None:
        """Count an ignored short request; the notice text at most once a minute per source."""
        notice = self._notices.get(address)
        if notice is None:
            notice = _Notice(logged_s=now - SHORT_NOTICE_INTERVAL_S, smallest=size)
            self._notices[address] = notice
            while len(self._notices) > self.config.max_sources:
                self._notices.popitem(last=False)
        else:
            self._notices.move_to_end(address)
        notice.ignored += 1
        notice.smallest = min(notice.smallest or size, size)
        notice.largest = max(notice.largest, size)
        if now - notice.logged_s < SHORT_NOTICE_INTERVAL_S:
            return None
        sizes = (
            f"{notice.smallest}"
            if notice.smallest == notice.largest
            else f"{notice.smallest}–{notice.largest}"
        )
        text = (
            f"ignored {notice.ignored} request(s) of {sizes} octets from {_printable(address)}"
            f": by default only requests of at least {BASE_SIZE} octets (the STAMP base"
            f" packet) are answered, since a reply to a shorter TWAMP-Light request can hold"
            f" more octets than the request; start the reflector with {ACCEPT_SHORT_OPTION}"
            f" to answer them (replies of at most max(request, {BASE_SIZE}) octets,"
            f" rate-limited per source; next notice for this source in"
            f" {SHORT_NOTICE_INTERVAL_S:g} s at the earliest)"
        )
        self._notices[address] = _Notice(logged_s=now)
        return text

    def _take_token(
        self,
        buckets: OrderedDict[str, _Bucket],
        address: str,
        now: float,
        rate_pps: float,
        burst: int,
    ) -> bool:
        bucket = buckets.get(address)
        if bucket is None:
            bucket = _Bucket(tokens=float(burst), updated_s=now)
            buckets[address] = bucket
            while len(buckets) > self.config.max_sources:
                buckets.popitem(last=False)
        else:
            buckets.move_to_end(address)
            elapsed = max(0.0, now - bucket.updated_s)
            bucket.tokens = min(float(burst), bucket.tokens + elapsed * rate_pps)
            bucket.updated_s = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return True
        return False

    def _session(self, key: tuple[str, int, int], now: float) -> _Session:
        self._expire(now)
        session = self._sessions.get(key)
        own = self._by_source.setdefault(key[0], OrderedDict())
        if session is None:
            if len(own) >= self.config.sessions_per_source:
                # one address at its share: its own oldest session goes, nobody else's
                self._forget(next(iter(own)))
                self.stats.sessions_evicted += 1
            session = _Session()
            self._sessions[key] = session
            own[key] = None
            while len(self._sessions) > self.config.max_sessions:
                self._forget(next(iter(self._sessions)))
                self.stats.sessions_evicted += 1
        else:
            self._sessions.move_to_end(key)
            own.move_to_end(key)
        session.last_seen_s = now
        return session

    def _forget(self, key: tuple[str, int, int]) -> None:
        del self._sessions[key]
        own = self._by_source.get(key[0])
        if own is not None:
            own.pop(key, None)
            if not own:
                del self._by_source[key[0]]

    def _expire(self, now: float) -> None:
        """Drop sessions silent for REFWAIT; LRU order makes this O(expired)."""
        limit = now - self.config.refwait_s
        while self._sessions:
            key, oldest = next(iter(self._sessions.items()))
            if oldest.last_seen_s > limit:
                break
            self._forget(key)
            self.stats.sessions_expired += 1


def _printable(text: str) -> str:
    """A source address as it may appear in a log line (control characters escaped)."""
    return text if text.isprintable() else ascii(text)


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
    """Reference service ``@reference/stamp``: a reflector thread on an ephemeral port.

    On a loopback address it also answers short TWAMP-Light requests (``accept_short``), so
    every request size the sender accepts (≥ 41 octets) works against it; amplification
    needs a spoofed off-host source, which loopback cannot receive.
    """
    config = ReflectorConfig(accept_short=ipaddress.ip_address(bind).is_loopback)
    server = ReflectorServer(bind, 0, reflector=Reflector(config)).start()
    return RunningService(target=server.target, stop=server.stop)
