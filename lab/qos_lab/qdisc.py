"""The kernel's own qdisc counters as ground truth for rate tests (``tc -s qdisc``).

A peer tool's throughput figure (iperf3's bytes over iperf3's own clock) drops when the
host's CPU is busy and the sender cannot keep the bottleneck queue full; that is not a
fault of the shaper.  The shaper's truth is in the kernel: tbf counts every byte it
dequeues (``bytes``), the packets it had to hold for tokens (``overlimits``), what it
dropped (``drops``) and what is waiting (``backlog``).  :class:`QdiscSampler` reads those
counters from one long-lived ``tc -s -j -batch -`` process in the router namespace, so a
sample costs a pipe round trip (tens of µs) rather than a process start, and brackets
each read with two monotonic timestamps: a window's true length is known to within the
two brackets even when the sampling thread is preempted.

The token bucket (tc-tbf(8)) bounds what may leave in any interval of length ``t``:
``bytes ≤ burst + rate·t/8``, whatever the sender does.  While packets wait for tokens
the whole interval, it also sends no less than ``rate·t/8 − burst``.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from dataclasses import dataclass

from qos_lab.netlab import LabError, _readline, ns_exec_argv, python_env


@dataclass(frozen=True, slots=True)
class QdiscSample:
    """One read of a root qdisc's counters, taken between ``t_before`` and ``t_after``."""

    t_before: float
    t_after: float
    bytes: int
    packets: int
    drops: int
    overlimits: int
    backlog: int
    qlen: int


@dataclass(frozen=True, slots=True)
class QdiscWindow:
    """Counter differences between two samples, with the bounds of the elapsed time."""

    bytes: int
    packets: int
    drops: int
    overlimits: int
    min_s: float  # the reads were at least this far apart ...
    max_s: float  # ... and at most this far
    min_backlog: int  # the smallest backlog read at the window's samples (ends included)

    @property
    def rate_bps(self) -> float:
        """Sent bits over the window's midpoint length (for reporting)."""
        return self.bytes * 8 / ((self.min_s + self.max_s) / 2)

    def within_bucket(self, rate_bps: float, bucket_bytes: int) -> bool:
        """tc-tbf(8): no interval may carry more than ``bucket + rate·t`` bytes."""
        return self.bytes <= bucket_bytes + rate_bps * self.max_s / 8

    def at_rate(self, rate_bps: float, bucket_bytes: int) -> bool:
        """A window that never saw the queue empty sent at least ``rate·t − bucket``."""
        return self.bytes >= rate_bps * self.min_s / 8 - bucket_bytes


def parse_qdisc_json(text: str, kind: str = "tbf") -> QdiscSample | None:
    """The root qdisc of ``kind`` in ``tc -s -j qdisc show dev X`` output (times left 0)."""
    for entry in json.loads(text):
        if entry.get("kind") == kind and entry.get("root"):
            return QdiscSample(
                t_before=0.0,
                t_after=0.0,
                bytes=int(entry["bytes"]),
                packets=int(entry["packets"]),
                drops=int(entry["drops"]),
                overlimits=int(entry["overlimits"]),
                backlog=int(entry["backlog"]),
                qlen=int(entry["qlen"]),
            )
    return None


def windows(samples: list[QdiscSample], min_length_s: float) -> list[QdiscWindow]:
    """Consecutive, non-overlapping windows at least ``min_length_s`` long (by the
    shorter time bound) cut from ``samples`` in order."""
    out: list[QdiscWindow] = []
    start = 0
    for end in range(1, len(samples)):
        a, b = samples[start], samples[end]
        if b.t_before - a.t_after < min_length_s:
            continue
        span = samples[start : end + 1]
        out.append(
            QdiscWindow(
                bytes=b.bytes - a.bytes,
                packets=b.packets - a.packets,
                drops=b.drops - a.drops,
                overlimits=b.overlimits - a.overlimits,
                min_s=b.t_before - a.t_after,
                max_s=b.t_after - a.t_before,
                min_backlog=min(x.backlog for x in span),
            )
        )
        start = end
    return out


class QdiscSampler:
    """Samples the root qdisc of ``dev`` in namespace ``ns`` every ``period_s`` in a thread.

    Use as a context manager around the traffic; ``samples`` holds the reads (one before
    the thread starts and one after it stops, so the whole span is covered).
    """

    def __init__(self, ns: str, dev: str, *, period_s: float = 0.02, kind: str = "tbf") -> None:
        self.dev = dev
        self.kind = kind
        self.period_s = period_s
        self.samples: list[QdiscSample] = []
        self._stop = threading.Event()
        self._proc = subprocess.Popen(
            ns_exec_argv(ns, ["tc", "-s", "-j", "-batch", "-"]),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=python_env(),
        )
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def read(self) -> QdiscSample:
        """One bracketed read of the counters."""
        proc = self._proc
        assert proc.stdin is not None
        t_before = time.monotonic()
        proc.stdin.write(f"qdisc show dev {self.dev}\n")
        proc.stdin.flush()
        line = _readline(proc.stdout, 5.0)
        t_after = time.monotonic()
        sample = parse_qdisc_json(line, self.kind) if line.strip() else None
        if sample is None:
            raise LabError(f"no {self.kind} root qdisc on {self.dev}: {line!r}")
        return QdiscSample(t_before, t_after, *_counters(sample))

    def _loop(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            self.samples.append(self.read())
            next_at += self.period_s
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def __enter__(self) -> QdiscSampler:
        self.samples.append(self.read())
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)
        try:
            self.samples.append(self.read())
        finally:
            if self._proc.stdin is not None:
                self._proc.stdin.close()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            for stream in (self._proc.stdout, self._proc.stderr):
                if stream is not None:
                    stream.close()


def _counters(s: QdiscSample) -> tuple[int, int, int, int, int, int]:
    return (s.bytes, s.packets, s.drops, s.overlimits, s.backlog, s.qlen)
