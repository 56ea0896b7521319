"""Continuous low-rate STAMP stream: windows, continuity, loss anchoring, clean stop."""

from __future__ import annotations

import socket
import time

import pytest

from qos.records import LossDirection, Measurement, Status
from qos_agent.continuous import ContinuousStamp
from qos_agent.stamp.reflector import Reflector, ReflectorServer


class DroppingReflector(Reflector):
    """Reflects normally but loses chosen packets on the way back (counter still moves)."""

    def __init__(self, drop_back: set[int]) -> None:
        super().__init__()
        self.drop_back = drop_back

    def handle(self, data, source, ttl, receive_ns=None):  # type: ignore[no-untyped-def]
        reply = super().handle(data, source, ttl, receive_ns)
        if reply is not None and int.from_bytes(data[:4], "big") in self.drop_back:
            return None
        return reply


def test_windows_are_contiguous_and_every_probe_is_kept() -> None:
    out: list[Measurement] = []
    # seq 9 is the last probe of window 0 (10 per window): its direction needs window 1
    with ReflectorServer("127.0.0.1", 0, DroppingReflector({9, 14})).start() as server:
        stream = ContinuousStamp(
            server.target,
            out.append,
            interval_s=0.05,
            summary_interval_s=0.5,
            timeout_s=0.15,
            reflector_mode="stateful",  # backward-only loss gives no proof of state in auto
        ).start()
        time.sleep(1.35)
        stream.stop()
    assert not stream.running
    assert len(out) == 3 and all(m.collector == "stamp" for m in out)
    seqs = [p.seq for m in out for p in m.result.probes]  # type: ignore[union-attr]
    assert seqs == list(range(len(seqs)))  # nothing dropped or repeated between windows
    assert [m.result.details["partial"] for m in out] == [False, False, True]  # type: ignore[union-attr]
    assert [m.result.sent for m in out[:2]] == [10, 10]  # type: ignore[union-attr]
    lost = {p.seq: p.lost_direction for m in out for p in m.result.probes if p.lost}  # type: ignore[union-attr]
    assert lost == {9: LossDirection.BACKWARD, 14: LossDirection.BACKWARD}
    assert all(m.status is Status.OK for m in out)
    assert out[0].started_at < out[1].started_at < out[2].started_at
    assert out[0].duration_s == pytest.approx(0.5, abs=0.1)


def test_unreachable_target_is_recorded_and_stop_is_prompt() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out: list[Measurement] = []
    stream = ContinuousStamp(
        f"127.0.0.1:{port}", out.append, interval_s=0.05, summary_interval_s=0.3, timeout_s=0.1
    ).start()
    time.sleep(0.5)
    begin = time.monotonic()
    stream.stop()
    assert time.monotonic() - begin < 1.0 and not stream.running
    assert out and all(m.status is Status.UNREACHABLE for m in out)


def test_bad_target_yields_an_error_record() -> None:
    out: list[Measurement] = []
    stream = ContinuousStamp(
        "127.0.0.1:notaport", out.append, interval_s=0.05, summary_interval_s=0.3, timeout_s=0.1
    ).start()
    time.sleep(0.1)
    stream.stop()
    assert out and out[0].status is Status.ERROR and "port" in (out[0].error or "")


def test_callback_failure_does_not_stop_the_stream() -> None:
    calls: list[int] = []

    def broken(m: Measurement) -> None:
        calls.append(m.result.sent if m.result else 0)  # type: ignore[union-attr]
        raise RuntimeError("consumer bug")

    with ReflectorServer("127.0.0.1", 0).start() as server:
        stream = ContinuousStamp(
            server.target, broken, interval_s=0.05, summary_interval_s=0.25, timeout_s=0.1
        ).start()
        time.sleep(0.9)
        stream.stop()
    assert len(calls) >= 3


@pytest.mark.parametrize(
    ("interval", "summary", "timeout"), [(0, 1, 0.1), (2, 1, 0.1), (0.1, 1, 1)]
)
def test_rejects_inconsistent_intervals(interval: float, summary: float, timeout: float) -> None:
    with pytest.raises(ValueError):
        ContinuousStamp(
            "127.0.0.1:862",
            lambda m: None,
            interval_s=interval,
            summary_interval_s=summary,
            timeout_s=timeout,
        )
