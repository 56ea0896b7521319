"""Host clock state for STAMP timestamps (RFC 4656 §4.1.2, RFC 8762 §4.2.1).

The Error Estimate's S bit must say whether the clock is synchronised to UTC by an external
source.  On Linux the kernel knows: ``adjtimex(2)`` with ``modes = 0`` only reads, returns
``TIME_ERROR`` (5) when ``STA_UNSYNC`` is set (no NTP/PTP daemon disciplines the clock), and
fills ``maxerror`` (µs, the kernel's bound on the clock error).  We call it through
:mod:`ctypes` from libc — standard library only, no ``timedatectl`` subprocess.  Anywhere
this fails (other OS, seccomp) the clock is reported **unsynchronised**: claiming sync we
cannot prove would make one-way delays look valid when they are not.

Wall-clock timestamps for the wire come from ``time.time_ns``; round-trip intervals must
use the monotonic clock (see :mod:`qos_agent.stamp.sender`).
"""

from __future__ import annotations

import ctypes
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from qos_agent.stamp.codec import ErrorEstimate

_TIME_ERROR = 5
_STA_UNSYNC = 0x0040
#: kernel's maxerror when unsynchronised (NTP_PHASE_LIMIT-ish 16 s); used as fallback bound
_UNSYNC_ERROR_S = 16.0


class _Timex(ctypes.Structure):
    """Leading fields of ``struct timex`` (linux/timex.h); the rest is reserved space."""

    _fields_ = (
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("_rest", ctypes.c_byte * 256),
    )


@dataclass(frozen=True, slots=True)
class ClockState:
    """Whether the host clock is synchronised, and the error bound to advertise."""

    synchronized: bool
    max_error_s: float
    source: str  # "adjtimex" or why it could not be read

    def error_estimate(self) -> ErrorEstimate:
        return ErrorEstimate.from_seconds(self.max_error_s, synchronized=self.synchronized)


def read_clock_state() -> ClockState:
    """Ask the kernel (Linux ``adjtimex``); fall back to "unsynchronised"."""
    if not sys.platform.startswith("linux"):
        return ClockState(False, _UNSYNC_ERROR_S, f"unsupported platform {sys.platform}")
    try:
        # the C library already loaded into this process; ctypes.util.find_library would
        # import shutil, bz2 and lzma (≈ 1 MB resident) to find the same file
        libc = ctypes.CDLL(None, use_errno=True)
        timex = _Timex()
        state = libc.adjtimex(ctypes.byref(timex))
    except (OSError, AttributeError) as exc:
        return ClockState(False, _UNSYNC_ERROR_S, f"adjtimex unavailable: {exc}")
    if state < 0:
        return ClockState(False, _UNSYNC_ERROR_S, f"adjtimex failed: errno {ctypes.get_errno()}")
    synced = state != _TIME_ERROR and not (timex.status & _STA_UNSYNC)
    resolution_s = time.clock_getres(time.CLOCK_REALTIME)
    max_error_s = (
        max(timex.maxerror / 1e6, resolution_s)
        if timex.maxerror > 0
        else (resolution_s if synced else _UNSYNC_ERROR_S)
    )
    return ClockState(synced, max_error_s, "adjtimex")


class CachedClockState:
    """:func:`read_clock_state` re-read at most every ``ttl_s`` (cheap to call per packet)."""

    def __init__(
        self, ttl_s: float = 10.0, reader: Callable[[], ClockState] = read_clock_state
    ) -> None:
        self._ttl_ns = int(ttl_s * 1e9)
        self._reader = reader
        self._lock = threading.Lock()
        self._state: ClockState | None = None
        self._read_at = 0

    def __call__(self) -> ClockState:
        now = time.monotonic_ns()
        with self._lock:
            if self._state is None or now - self._read_at >= self._ttl_ns:
                self._state = self._reader()
                self._read_at = now
            return self._state
