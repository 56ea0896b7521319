"""Continuous low-rate STAMP stream per target (RFC 8762; docs/methods.md §7).

Commercial measurement panels keep one low-rate UDP stream per target running all day and
report it per hour; a burst of 100 pings every few minutes misses most of what a
household experiences.  :class:`ContinuousStamp` sends one STAMP test packet every
``interval_s`` (default 1 s) on a fixed schedule to one reflector, in a background thread,
and every ``summary_interval_s`` (default 1 h) emits one :class:`~qos.records.Measurement`
holding **every probe** of that window through a callback.

A window is closed at its end but emitted only ``timeout_s`` later, so replies to its last
probes can still arrive and the first replies of the next window can anchor its trailing
loss attribution (stateful reflector counter, :func:`qos_agent.stamp.analysis.analyse`).
One socket and one session (SSID) live for the whole stream, so the reflector's counter
continues across windows.  :meth:`ContinuousStamp.stop` stops sending, waits for late
replies, emits the partial last window (``details["partial"] = True``) and joins.
"""

from __future__ import annotations

import logging
import secrets
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from qos.records import Measurement, RttResult, Status
from qos_agent.collectors.stamp import parse_target
from qos_agent.net.clock import Clock
from qos_agent.stamp.analysis import SESSION_START, Anchor, analyse, reflector_state
from qos_agent.stamp.clock import read_clock_state
from qos_agent.stamp.codec import BASE_SIZE
from qos_agent.stamp.sender import StampSender

log = logging.getLogger(__name__)

COLLECTOR_NAME = "stamp"


@dataclass(frozen=True, slots=True)
class _Window:
    first_seq: int
    end_seq: int  # exclusive
    started_at: datetime
    start_ns: int
    end_ns: int
    partial: bool = False


class ContinuousStamp:
    """One always-on STAMP stream to ``target``; summaries go to ``on_summary``."""

    def __init__(
        self,
        target: str,
        on_summary: Callable[[Measurement], object],  # any return value is ignored
        *,
        agent_id: str = "local",
        interval_s: float = 1.0,
        summary_interval_s: float = 3600.0,
        timeout_s: float = 2.0,
        size: int = BASE_SIZE,
        ssid: int | None = None,
        labels: Mapping[str, str] | None = None,
        clock: Clock | None = None,
        reflector_mode: str = "auto",
    ) -> None:
        if not 0 < interval_s <= summary_interval_s:
            raise ValueError("need 0 < interval_s <= summary_interval_s")
        if not 0 < timeout_s < summary_interval_s:
            raise ValueError("need 0 < timeout_s < summary_interval_s")
        self.target = target
        self.on_summary = on_summary
        self.agent_id = agent_id
        self.interval_s = interval_s
        self.summary_interval_s = summary_interval_s
        self.timeout_s = timeout_s
        self.size = size
        self.ssid = ssid if ssid is not None else 1 + secrets.randbelow(65535)
        self.labels = dict(labels or {})
        self.clock = clock or Clock()
        if reflector_mode not in {"auto", "stateful", "stateless"}:
            raise ValueError("reflector_mode must be auto, stateful or stateless")
        self.reflector_mode = reflector_mode
        self._stateful: bool | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.emitted = 0

    # ------------------------------------------------------------------ control
    def start(self) -> ContinuousStamp:
        self._thread = threading.Thread(
            target=self._run_safely, daemon=True, name=f"qos-stamp-stream-{self.target}"
        )
        self._thread.start()
        return self

    def stop(self, join_timeout_s: float | None = None) -> None:
        """Stop sending, flush the partial window (after late replies), join the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(
                join_timeout_s if join_timeout_s is not None else self.timeout_s + 5.0
            )

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # ------------------------------------------------------------------ thread
    def _run_safely(self) -> None:
        try:
            self._run()
        except Exception:  # never die silently: log, and record the failure
            log.exception("continuous STAMP stream to %s failed", self.target)
            self._emit_failure("continuous stream crashed; see the agent log")

    def _params(self) -> dict[str, object]:
        return {
            "mode": "continuous",
            "interval": self.interval_s,
            "summary_interval": self.summary_interval_s,
            "timeout": self.timeout_s,
            "size": self.size,
            "reflector": self.reflector_mode,
            "ssid": self.ssid,
        }

    def _emit(self, measurement: Measurement) -> None:
        self.emitted += 1
        try:
            self.on_summary(measurement)
        except Exception:  # a failing consumer must not stop the stream
            log.exception("summary callback failed for %s", self.target)

    def _emit_failure(self, error: str) -> None:
        self._emit(
            Measurement(
                agent_id=self.agent_id,
                collector=COLLECTOR_NAME,
                target=self.target,
                started_at=self.clock.wall(),
                duration_s=0.0,
                status=Status.ERROR,
                error=error,
                params=self._params(),
                labels=self.labels,
            )
        )

    def _open(self) -> StampSender | None:
        try:
            host, port = parse_target(self.target)
            info = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
            return StampSender(
                info[4],
                info[0],
                ssid=self.ssid,
                size=self.size,
                clock_state=read_clock_state(),
                monotonic_ns=self.clock.monotonic_ns,
            )
        except (ValueError, OSError) as exc:
            self._emit_failure(f"cannot start stream to {self.target}: {exc}")
            return None

    def _run(self) -> None:
        sender = self._open()
        while sender is None:
            if self._stop.wait(self.summary_interval_s):
                return
            sender = self._open()
        with sender:
            self._stream(sender)

    def _stream(self, sender: StampSender) -> None:
        mono = self.clock.monotonic_ns
        interval_ns = int(self.interval_s * 1e9)
        window_ns = int(self.summary_interval_s * 1e9)
        timeout_ns = int(self.timeout_s * 1e9)
        begin = mono()
        seq = 0
        window = _Window(0, 0, self.clock.wall(), begin, begin + window_ns)
        pending: list[_Window] = []
        left: Anchor = SESSION_START
        while not self._stop.is_set():
            now = mono()
            if now >= window.end_ns:
                pending.append(
                    _Window(window.first_seq, seq, window.started_at, window.start_ns, now)
                )
                window = _Window(seq, seq, self.clock.wall(), now, window.end_ns + window_ns)
            while pending and now >= pending[0].end_ns + timeout_ns:
                left = self._finish(sender, pending.pop(0), left)
            due = begin + seq * interval_ns
            if now >= due:
                sender.send(seq)
                seq += 1
                continue
            wake = min(due, window.end_ns, *(w.end_ns + timeout_ns for w in pending))
            sender.poll(min(max(0.0, (wake - now) / 1e9), 0.05))
        # clean stop: no more sends; let late replies arrive, then flush everything
        now = mono()
        pending.append(
            _Window(window.first_seq, seq, window.started_at, window.start_ns, now, partial=True)
        )
        deadline = now + timeout_ns
        while sender.outstanding() and (remaining := deadline - mono()) > 0:
            sender.poll(min(remaining / 1e9, 0.05))
        for w in pending:
            if w.end_seq > w.first_seq:
                left = self._finish(sender, w, left)

    def _finish(self, sender: StampSender, window: _Window, left: Anchor) -> Anchor:
        """Emit one window's measurement; return the left anchor for the next one."""
        seqs = range(window.first_seq, window.end_seq)
        sent = [sender.sent[s] for s in seqs if s in sender.sent]
        replies = {s: sender.replies[s] for s in seqs if s in sender.replies}
        later = [s for s in sender.replies if s >= window.end_seq]
        right = None
        if later:
            first_later = min(later)
            right = Anchor(first_later, sender.replies[first_later][0].packet.seq)
        if reflector_state(replies, self.reflector_mode) is True:
            self._stateful = True  # proof of a per-session counter holds for the session
        stateful = self._stateful or reflector_state({}, self.reflector_mode)
        probes, details = analyse(
            sent,
            replies,
            left=left,
            right=right,
            sender_synchronized=sender.clock_state.synchronized,
            stateful=stateful,
        )
        details.update(
            {
                "ssid": self.ssid,
                "discarded": sender.discarded,
                "partial": window.partial,
                "first_seq": window.first_seq,
            }
        )
        received = sum(1 for p in probes if p.rtt_s is not None)
        if received:
            status, error = Status.OK, None
        elif sender.refused:
            status, error = Status.UNREACHABLE, f"{self.target}: port unreachable"
        else:
            status, error = Status.TIMEOUT, f"no reply from {self.target} to {len(probes)} probes"
        result = RttResult(
            probes=tuple(probes),
            interval_s=self.interval_s,
            timeout_s=self.timeout_s,
            packet_size_bytes=self.size,
            details=details,
        )
        self._emit(
            Measurement(
                agent_id=self.agent_id,
                collector=COLLECTOR_NAME,
                target=self.target,
                started_at=window.started_at,
                duration_s=max(0.0, (window.end_ns - window.start_ns) / 1e9),
                status=status,
                result=result,
                error=error,
                params=self._params(),
                labels=self.labels,
            )
        )
        if replies:
            last = max(replies)
            left = Anchor(last, replies[last][0].packet.seq)
        for s in seqs:  # bounded memory: this window is done
            sender.sent.pop(s, None)
            sender.replies.pop(s, None)
        sender.refused = False
        return left
