"""Byte accounting of a speedtest-cli run: bytes read, bytes acknowledged, failed requests.

Upload counts what the server's TCP acknowledged (Linux ``TCP_INFO``, cumulatively or by
SACK), not what was handed to ``http.client``; download counts body bytes read.  The
goodput is taken over the window :func:`measurement_window` picks from the samples.
"""

from __future__ import annotations

import http.client
import threading
import urllib.error
from typing import Any

from qos_agent.net import tcpinfo


class TrackedConnection:
    """One HTTP connection's acknowledged bytes: live from TCP_INFO, frozen when it ends."""

    def __init__(self, sock: Any) -> None:
        self.sock = sock
        self.last = 0
        self.final: int | None = None

    def current(self) -> int:
        """Bytes acknowledged so far: cumulatively, plus (live) the selectively acked ones.

        At a 50 Mbit/s bottleneck speedtest-cli's new connections lose 7-15 % of their
        packets, so at any moment several of them hold out-of-order data the server has
        SACKed (RFC 2018) but not yet acknowledged cumulatively; counted only when the hole
        is filled, those bytes moved across the edges of the measured window and made a
        6 s goodput read up to 1.5 % above the link's TCP payload capacity in the lab
        (within 0.05 % of iperf3 in 7 of 7 runs with them).
        SACKed segments count as full segments except one (the last of a body may be
        shorter), so this stays a lower bound of what the server received.
        """
        if self.final is not None:
            return self.final
        info = tcpinfo.read(self.sock)
        if info is not None:
            self.last = info.payload_acked() + info.sacked_bytes()
        return self.last

    def finish(self) -> None:
        """Called once the server replied (all acked) or before the socket closes."""
        if self.final is None:
            self.final = self.current()


class Traffic:
    """Counts bytes speedtest-cli moves and the HTTP errors it would otherwise swallow."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.downloaded = 0
        self.upload_bodies: list[Any] = []
        self.http_errors: dict[int, int] = {}
        self.retry_after_s: float | None = None
        self.first_data_ns: int | None = None  # first download/upload request (≈ its start)
        self.connections: list[TrackedConnection] = []
        self.timeouts = 0  # data requests that timed out (speedtest-cli ignores them)
        self.failures = 0  # data requests that failed otherwise (reset, refused, ...)
        self.examples: dict[str, str] = {}  # "timeouts"/"failures" → last such error

    def uploaded(self) -> int:
        """Body bytes handed to http.client (speedtest-cli's own upload count)."""
        with self.lock:
            return sum(sum(body.total) for body in self.upload_bodies)

    def track(self, sock: Any) -> TrackedConnection:
        tracked = TrackedConnection(sock)
        with self.lock:
            self.connections.append(tracked)
        return tracked

    def acked(self) -> int:
        """Transport payload the servers acknowledged on every connection (TCP_INFO)."""
        with self.lock:
            connections = list(self.connections)
        return sum(c.current() for c in connections)

    def note_failure(self, exc: Exception) -> None:
        """A data request that timed out (server stalled) or failed (reset, refused)."""
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        kind = "timeouts" if isinstance(reason, TimeoutError) else "failures"
        with self.lock:
            setattr(self, kind, getattr(self, kind) + 1)
            self.examples[kind] = f"{type(reason).__name__}: {reason}"

    def note_error(self, exc: urllib.error.HTTPError) -> None:
        with self.lock:
            self.http_errors[exc.code] = self.http_errors.get(exc.code, 0) + 1
            retry = exc.headers.get("Retry-After") if exc.headers else None
            if retry and retry.strip().isdigit():
                self.retry_after_s = float(retry)


class CountingResponse:
    def __init__(self, response: Any, traffic: Traffic) -> None:
        self._response = response
        self._traffic = traffic

    def read(self, *args: Any) -> bytes:
        try:
            data: bytes = self._response.read(*args)
        except (OSError, http.client.HTTPException) as exc:  # speedtest-cli swallows these
            self._traffic.note_failure(exc)
            raise
        with self._traffic.lock:
            self._traffic.downloaded += len(data)
        missing = getattr(self._response, "length", None)
        if not data and missing:  # http.client hides a body cut short as a plain EOF
            self._traffic.note_failure(
                ConnectionError(f"connection closed with {missing} body bytes missing")
            )
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._response, name)


def measurement_window(
    samples: list[tuple[int, int]], *, start_ns: int, warmup_ns: int, length_ns: int
) -> tuple[tuple[int, int], tuple[int, int], str | None] | None:
    """The (time, bytes) samples bounding the measured period, and a note if it was shortened.

    speedtest-cli's own figure divides all bytes by the time from its start until every
    thread has stopped, so it includes TCP ramp-up and a shutdown tail in which threads stop
    reading (in the lab at 50 Mbit/s it read 4-13 % below iperf3).  As for http_throughput
    (BEREC practice, docs/methods.md §8.1), the reported goodput uses the bytes sampled between
    the end of the warm-up and the end of the test length — or the end of the data, when
    speedtest-cli ran out of files earlier.  If the data ended within the warm-up, the
    warm-up cannot be excluded and the note says so.
    """
    if len(samples) < 2:
        return None
    final = samples[-1][1]
    data_end = next(t for t, c in samples if c == final)
    end_limit = min(start_ns + length_ns, data_end)
    note = None
    first = next((p for p in samples if p[0] >= start_ns + warmup_ns), None)
    last = next((p for p in reversed(samples) if p[0] <= end_limit), None)
    if first is None or last is None or last[0] <= first[0]:
        first = samples[0]
        last = next(p for p in samples if p[0] >= data_end)
        note = "the transfer ended within the warm-up: warm-up not excluded"
    if last[0] <= first[0] or last[1] <= first[1]:
        return None
    return first, last, note
