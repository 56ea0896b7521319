"""Host clock state → Error Estimate S bit (RFC 4656 §4.1.2, RFC 8762 §4.2.1)."""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

import pytest

from qos_agent.stamp import clock
from qos_agent.stamp.clock import CachedClockState, ClockState, read_clock_state
from qos_agent.stamp.codec import ErrorEstimate


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="adjtimex is Linux-only")
def test_matches_the_kernel_state_read_independently() -> None:
    # independent read: raw buffer, only the documented return value (TIME_ERROR = 5)
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    buffer = ctypes.create_string_buffer(1024)  # modes = 0: read only
    kernel_state = libc.adjtimex(buffer)
    state = read_clock_state()
    assert state.source == "adjtimex"
    assert state.synchronized is (kernel_state != 5)
    assert state.max_error_s > 0
    est = state.error_estimate()
    assert est.synchronized is state.synchronized and est.valid
    assert est.seconds >= state.max_error_s


def test_unsupported_platform_is_unsynchronised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clock.sys, "platform", "plan9")
    state = read_clock_state()
    assert state.synchronized is False and "unsupported" in state.source
    assert ErrorEstimate.decode(state.error_estimate().encode()).synchronized is False


def test_cached_state_rereads_after_ttl() -> None:
    calls: list[int] = []

    def reader() -> ClockState:
        calls.append(1)
        return ClockState(synchronized=len(calls) % 2 == 1, max_error_s=1e-3, source="t")

    cached = CachedClockState(ttl_s=0.0, reader=reader)
    assert cached().synchronized is True and cached().synchronized is False
    slow = CachedClockState(ttl_s=3600, reader=reader)
    first = slow()
    assert slow() is first and len(calls) == 3


def test_error_estimate_s_bit_follows_state() -> None:
    synced = ClockState(True, 1e-4, "t").error_estimate().encode()
    free = ClockState(False, 16.0, "t").error_estimate().encode()
    assert synced >> 15 == 1 and free >> 15 == 0
    assert ErrorEstimate.decode(free).seconds >= 16.0
