"""Userspace delay/jitter/loss/rate emulator bridging two TUN devices (docs/methods.md §12.3).

The kernel on these machines has no netem (docs/methods.md §12.1), so delay and jitter come
from this process.  It creates two TUN devices in its own network namespace (the lab moves
one of them into the server namespace afterwards; the open descriptor keeps working) and
copies every IP packet read from one device to the other after

    release = departure + delay + U(-jitter, +jitter)

where ``departure`` is the arrival instant, or the end of serialisation when a rate limit is
set (a token-free "link busy until" model with a tail-drop byte limit, so a rate limit
builds queueing delay the way a real bottleneck does).  Packets leave strictly in FIFO
order per direction (``release`` is clamped to the previous packet's release), so the
emulator never reorders; with a packet spacing of at least ``2 * jitter`` the clamp never
binds and the added delay is exactly uniform.  Random drop is Bernoulli per packet.

Timing: the process sets its timer slack to 1 ns and (with ``--realtime``) asks for
SCHED_FIFO, then sleeps in ``select`` (microsecond timeouts) until the next release and
spins for the last ``--spin`` microseconds.  On an idle core the release error is a few
tens of microseconds.

Run it as its own process (``python -m qos_lab.tunbridge``) so it never shares a GIL with
the code under test.  Protocol on stdio: after both devices exist it prints one line
``READY``; each JSON object line on stdin updates parameters
(``{"a2b": {"delay_s": 0.01}, "b2a": {...}}``) and is answered with ``OK``; the line
``STATS`` is answered with one JSON line of counters; ``SEED n`` restarts the random
generator of each direction from seed ``n`` (:func:`direction_rng`) and is answered with
``OK``; ``REALTIME 1`` / ``REALTIME 0`` switches SCHED_FIFO on or off (``OK`` or
``ERROR ...``).  EOF on stdin or SIGTERM stops it.
"""

from __future__ import annotations

import argparse
import array
import bisect
import collections
import contextlib
import ctypes
import fcntl
import json
import math
import os
import random
import select
import signal
import struct
import sys
import time
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
PR_SET_TIMERSLACK = 29
MAX_PACKET = 65535
LOG_MAX = 500_000  # per direction between two LOG commands (bulk flows stop logging)


@dataclass(frozen=True, slots=True)
class DirectionParams:
    """Impairment of one direction of the bridge (all in base units)."""

    delay_s: float = 0.0
    jitter_s: float = 0.0  # uniform in [-jitter, +jitter]
    loss: float = 0.0  # Bernoulli drop probability
    rate_bps: float = 0.0  # 0 = unlimited
    queue_bytes: int = 1_000_000  # tail-drop limit of the rate limiter's queue
    fifo: bool = True  # False: independent delays, packets may overtake (netem-like)

    def __post_init__(self) -> None:
        if self.delay_s < 0 or self.jitter_s < 0:
            raise ValueError("delay_s and jitter_s must be >= 0")
        if self.jitter_s > self.delay_s:
            raise ValueError("jitter_s must not exceed delay_s (delay would become negative)")
        if not 0.0 <= self.loss <= 1.0:
            raise ValueError("loss must be a probability in [0, 1]")
        if self.rate_bps < 0 or self.queue_bytes < 0:
            raise ValueError("rate_bps and queue_bytes must be >= 0")

    def updated(self, changes: dict[str, Any]) -> DirectionParams:
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown direction parameter(s): {', '.join(sorted(unknown))}")
        return replace(self, **changes)


class _Stop(Exception):
    """SIGTERM/SIGINT or EOF on stdin: leave the loop and close the devices."""


@dataclass(slots=True)
class _Counters:
    received: int = 0
    forwarded: int = 0
    dropped_random: int = 0
    dropped_queue: int = 0
    write_errors: int = 0
    max_late_s: float = 0.0
    late_sum_s: float = 0.0  # Σ (actual write − scheduled release): mean = late_sum_s / forwarded


class Direction:
    """One FIFO delay line from ``in_fd`` to ``out_fd``."""

    def __init__(self, in_fd: int, out_fd: int, params: DirectionParams, rng: random.Random):
        self.in_fd = in_fd
        self.out_fd = out_fd
        self.params = params
        self.rng = rng
        # (release time, arrival time, index in self.log, packet)
        self.queue: collections.deque[tuple[float, float, int, bytes]] = collections.deque()
        self.link_free = 0.0
        self.last_release = 0.0
        self.counters = _Counters()
        #: applied delay (write − read) per packet in arrival order, NaN = dropped; the
        #: realised ground truth that tests compare measurements with (LOG command)
        self.log = array.array("d")
        #: lateness of each logged packet (write − scheduled release), NaN like ``log``:
        #: ``log − late`` is the delay the emulator's model chose for the packet
        self.late = array.array("d")
        self.log_truncated = False
        #: packets logged before the last LOG command; queue slots are absolute indices,
        #: so a packet still in the delay line when the log is cleared cannot write into
        #: the new log (it stays NaN, "still in the delay line", in the log it belonged to)
        self.log_base = 0

    def _log_slot(self) -> int:
        if len(self.log) >= LOG_MAX:
            self.log_truncated = True
            return -1
        self.log.append(math.nan)
        self.late.append(math.nan)
        return self.log_base + len(self.log) - 1

    def take_log(self) -> tuple[array.array, array.array, bool]:
        """Applied delays and lateness since the last call, and whether they were
        truncated; starts a new log."""
        log, late, truncated = self.log, self.late, self.log_truncated
        self.log_base += len(log)
        self.log = array.array("d")
        self.late = array.array("d")
        self.log_truncated = False
        return log, late, truncated

    def accept(self, packet: bytes, now: float) -> None:
        p = self.params
        self.counters.received += 1
        slot = self._log_slot()
        if p.loss > 0.0 and self.rng.random() < p.loss:
            self.counters.dropped_random += 1
            return
        departure = now
        if p.rate_bps > 0.0:
            start = max(now, self.link_free)
            if (start - now) * p.rate_bps / 8.0 + len(packet) > p.queue_bytes:
                self.counters.dropped_queue += 1
                return
            self.link_free = start + len(packet) * 8.0 / p.rate_bps
            departure = self.link_free
        release = departure + p.delay_s
        if p.jitter_s > 0.0:
            release += self.rng.uniform(-p.jitter_s, p.jitter_s)
        if p.fifo:
            release = max(release, self.last_release)  # FIFO: never reorder
            self.last_release = release
            self.queue.append((release, now, slot, packet))
        else:
            bisect.insort(self.queue, (release, now, slot, packet), key=lambda e: e[0])

    def flush(self, now: float) -> None:
        queue = self.queue
        while queue and queue[0][0] <= now:
            release, arrival, slot, packet = queue.popleft()
            index = slot - self.log_base
            late = now - release
            if slot >= 0 and 0 <= index < len(self.log):
                self.log[index] = now - arrival
                self.late[index] = late
            self.counters.late_sum_s += late
            if late > self.counters.max_late_s:
                self.counters.max_late_s = late
            try:
                os.write(self.out_fd, packet)
                self.counters.forwarded += 1
            except OSError:
                self.counters.write_errors += 1

    def next_release(self) -> float | None:
        return self.queue[0][0] if self.queue else None


def direction_rng(seed: int | None, key: str) -> random.Random:
    """The random generator of direction ``key`` (``a2b``/``b2a``) for ``seed``.

    One generator per direction, so a seeded run drops and jitters the n-th packet of a
    direction the same way whatever the interleaving with the other direction.  With no
    jitter, :meth:`Direction.accept` draws exactly one number per packet (the drop test
    ``random() < loss``), so the n-th packet of a direction is dropped exactly when the
    n-th draw of this generator is below the loss probability; tests reproduce the drop
    pattern from the seed (:func:`drop_pattern`).
    """
    if seed is None:
        return random.Random()
    return random.Random(2 * seed + (0 if key == "a2b" else 1))


def drop_pattern(seed: int, key: str, loss: float, count: int) -> list[bool]:
    """Which of the next ``count`` packets of direction ``key`` a bridge reseeded with
    ``seed`` (``SEED`` command or ``--seed``) drops at probability ``loss``, no jitter."""
    rng = direction_rng(seed, key)
    return [rng.random() < loss for _ in range(count)]


def open_tun(name: str) -> int:
    """Create (or attach to) TUN device ``name`` without packet info; non-blocking fd."""
    if not name or len(name) > 15:
        raise ValueError(f"invalid interface name {name!r}")
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    try:
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    except OSError:
        os.close(fd)
        raise
    return fd


REALTIME_PRIORITY = 10  # above the peers' ``chrt -f 1``: the bridge is the path itself


def _tune_timing(realtime: bool) -> None:
    """1 ns timer slack; nice −10 (a CFS boost that cannot starve anyone) or SCHED_FIFO.

    SCHED_FIFO gives the tightest release times, but a real-time bridge forwarding a
    bulk flow takes a whole core away from everything else on a shared machine, so it is
    opt-in (``--realtime``, or the ``REALTIME 1`` command for the span of one test).

    With autogroup scheduling (``kernel.sched_autogroup_enabled``, the default on desktop
    and many server kernels) a process's nice value only ranks it inside its session's
    group, and the lab starts the bridge in a session of its own: every CPU-bound
    session on the host then weighs as much as the bridge, whose releases came out
    4 ms late at the median under two busy loops.  The group's own nice value
    (sched(7), ``/proc/PID/autogroup``) is what ranks it against other sessions, so it
    is lowered too.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, 0, -10)
    with contextlib.suppress(OSError), open("/proc/self/autogroup", "w") as group:
        group.write("-10")
    if realtime and _set_realtime(True) != "OK":
        print("tunbridge: SCHED_FIFO not permitted, using nice instead", file=sys.stderr)


def _set_realtime(on: bool) -> str:
    """Switch this process to SCHED_FIFO (``on``) or back to normal scheduling (nice −10).

    Under CFS the bridge wakes late when the host is busy, and lateness on the *read*
    side is invisible to its own records: a packet that waits in the TUN queue before
    the bridge reads it is stamped at the read, so the delay the bridge logs is short of
    what the packet really spent on the path (irtt's per-packet send delay minus the
    logged delay: p90 1.8 ms under two busy loops, 0.1 ms idle).  Tests that compare a
    peer with the logged delays packet for packet switch SCHED_FIFO on for their span.
    """
    try:
        if on:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(REALTIME_PRIORITY))
        else:
            os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
    except (OSError, AttributeError) as exc:
        return f"ERROR cannot change the scheduling policy: {exc}"
    return "OK"


def _drain(fd: int, direction: Direction) -> None:
    for _ in range(256):  # bounded so the other direction is served too
        try:
            packet = os.read(fd, MAX_PACKET)
        except BlockingIOError:
            return
        except OSError:
            return
        if not packet:
            return
        direction.accept(packet, time.monotonic())


def _handle_control(line: str, dirs: dict[str, Direction]) -> str:
    line = line.strip()
    if not line:
        return ""
    if line == "LOG":  # applied delays since the last LOG, then cleared
        out = {}
        for key, d in dirs.items():
            log, late, truncated = d.take_log()
            out[key] = {
                "delays_s": [None if math.isnan(v) else v for v in log],
                "late_s": [None if math.isnan(v) else v for v in late],
                "truncated": truncated,
            }
        return json.dumps(out)
    if line in ("REALTIME 1", "REALTIME 0"):
        return _set_realtime(line.endswith("1"))
    if line.startswith("SEED"):
        try:
            seed = int(line.removeprefix("SEED").strip())
        except ValueError:
            return "ERROR SEED needs an integer"
        for key, d in dirs.items():
            d.rng = direction_rng(seed, key)
        return "OK"
    if line == "STATS":
        return json.dumps(
            {k: asdict(d.counters) | {"queued": len(d.queue)} for k, d in dirs.items()}
        )
    try:
        changes = json.loads(line)
        if not isinstance(changes, dict) or set(changes) - set(dirs):
            raise ValueError("expected an object with keys a2b/b2a")
        new = {k: dirs[k].params.updated(v) for k, v in changes.items()}
    except (ValueError, TypeError) as exc:
        return f"ERROR {exc}"
    for key, params in new.items():
        dirs[key].params = params
    return "OK"


def run(
    dev_a: str,
    dev_b: str,
    a2b: DirectionParams,
    b2a: DirectionParams,
    *,
    seed: int | None,
    realtime: bool,
    spin_s: float,
) -> int:
    fd_a = open_tun(dev_a)
    fd_b = open_tun(dev_b)
    dirs = {
        "a2b": Direction(fd_a, fd_b, a2b, direction_rng(seed, "a2b")),
        "b2a": Direction(fd_b, fd_a, b2a, direction_rng(seed, "b2a")),
    }
    by_fd = {fd_a: dirs["a2b"], fd_b: dirs["b2a"]}
    stdin_fd = sys.stdin.fileno()
    os.set_blocking(stdin_fd, False)
    control_buf = b""

    def _on_signal(signum: int, frame: object) -> None:
        # raising interrupts select(); a flag alone would not (PEP 475 retries the call)
        raise _Stop

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    _tune_timing(realtime)
    print("READY", flush=True)
    readers = [fd_a, fd_b, stdin_fd]
    try:
        while True:
            now = time.monotonic()
            for d in dirs.values():
                d.flush(now)
            pending = [t for t in (d.next_release() for d in dirs.values()) if t is not None]
            timeout: float | None = None
            if pending:
                timeout = max(0.0, min(pending) - now - spin_s)
            ready, _, _ = select.select(readers, [], [], timeout)
            for fd in ready:
                if fd != stdin_fd:
                    _drain(fd, by_fd[fd])
                    continue
                try:
                    chunk = os.read(stdin_fd, 65536)
                except BlockingIOError:
                    continue
                if not chunk:
                    raise _Stop  # the lab closed our stdin: shut down
                control_buf += chunk
                while b"\n" in control_buf:
                    raw, control_buf = control_buf.split(b"\n", 1)
                    answer = _handle_control(raw.decode(errors="replace"), dirs)
                    if answer:
                        print(answer, flush=True)
            if not ready and pending:
                # woke up early by design: spin until the earliest release is due, but
                # stop spinning as soon as a packet arrives so its arrival stamp is exact
                target = min(pending)
                while time.monotonic() < target:
                    if select.select(readers, [], [], 0)[0]:
                        break
    except _Stop:
        pass
    os.close(fd_a)
    os.close(fd_b)
    return 0


def _direction_arg(text: str) -> DirectionParams:
    try:
        data = json.loads(text) if text else {}
        return DirectionParams().updated(data)
    except (ValueError, TypeError) as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m qos_lab.tunbridge",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("dev_a", help="first TUN device (created in this namespace)")
    parser.add_argument("dev_b", help="second TUN device (created in this namespace)")
    parser.add_argument(
        "--a2b",
        type=_direction_arg,
        default=DirectionParams(),
        help='JSON parameters a->b, e.g. {"delay_s": 0.01, "jitter_s": 0.002}',
    )
    parser.add_argument(
        "--b2a", type=_direction_arg, default=DirectionParams(), help="JSON parameters b->a"
    )
    parser.add_argument("--seed", type=int, default=None, help="random seed (loss, jitter)")
    parser.add_argument("--realtime", action="store_true", help="request SCHED_FIFO priority")
    parser.add_argument(
        "--spin-us",
        type=float,
        default=200.0,
        help="busy-wait this long before each release for accuracy",
    )
    args = parser.parse_args(argv)
    return run(
        args.dev_a,
        args.dev_b,
        args.a2b,
        args.b2a,
        seed=args.seed,
        realtime=args.realtime,
        spin_s=args.spin_us / 1e6,
    )


if __name__ == "__main__":
    raise SystemExit(main())
