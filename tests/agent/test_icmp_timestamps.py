"""Kernel transmit/receive stamps of the ICMP stream, and the fallback without them."""

from __future__ import annotations

import socket
import struct
import sys
import time

import pytest

from qos.records import RttResult, Status
from qos_agent.collectors import icmp, kernel_stamps
from qos_agent.collectors.base import MeasureContext, run_collector
from tests.agent.conftest import icmp_unavailable_reason

linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="SO_TIMESTAMPING is Linux's"
)


def _stamp_cmsg(seconds: int, nanoseconds: int) -> tuple[int, int, bytes]:
    data = struct.pack("@ll", seconds, nanoseconds) + bytes(2 * struct.calcsize("@ll"))
    return socket.SOL_SOCKET, kernel_stamps.SO_TIMESTAMPING, data


def _err_cmsg(origin: int, info: int, key: int) -> tuple[int, int, bytes]:
    data = struct.pack("=IBBBBII", 42, origin, 0, 0, 0, info, key) + bytes(16)  # + offender
    return socket.IPPROTO_IP, kernel_stamps.IP_RECVERR, data


def test_send_stamp_is_parsed_from_its_two_control_messages() -> None:
    stamp = _stamp_cmsg(1_700_000_000, 123_456_789)
    err = _err_cmsg(kernel_stamps.SO_EE_ORIGIN_TIMESTAMPING, kernel_stamps.SCM_TSTAMP_SND, 7)
    assert kernel_stamps.parse_send_stamp([stamp, err]) == (7, 1_700_000_000_123_456_789)
    assert kernel_stamps.parse_send_stamp([err, stamp]) == (7, 1_700_000_000_123_456_789)


@pytest.mark.parametrize(
    "ancdata",
    [
        [],
        [_stamp_cmsg(1, 2)],  # no key
        [_err_cmsg(kernel_stamps.SO_EE_ORIGIN_TIMESTAMPING, 0, 3)],  # no stamp
        [_stamp_cmsg(1, 2), _err_cmsg(2, 0, 3)],  # an ICMP error (SO_EE_ORIGIN_ICMP)
        [_stamp_cmsg(1, 2), _err_cmsg(kernel_stamps.SO_EE_ORIGIN_TIMESTAMPING, 1, 3)],  # SCHED
        [_stamp_cmsg(0, 0), _err_cmsg(kernel_stamps.SO_EE_ORIGIN_TIMESTAMPING, 0, 3)],  # no sw
    ],
)
def test_other_error_queue_messages_are_not_send_stamps(ancdata: list) -> None:
    assert kernel_stamps.parse_send_stamp(ancdata) is None


@linux_only
def test_kernel_stamps_each_send_in_order_within_the_send_call() -> None:
    """Real sockets on loopback: keys 0, 1, 2 in send order, each stamp inside its call."""
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx,
    ):
        rx.bind(("127.0.0.1", 0))
        tx.setblocking(False)
        if not kernel_stamps.enable_send_stamps(tx):
            pytest.skip("this kernel refuses SO_TIMESTAMPING")
        windows = []
        for i in range(3):
            before = time.time_ns()
            tx.sendto(bytes([i]), rx.getsockname())
            windows.append((before, time.time_ns()))
        deadline = time.monotonic() + 2
        stamps: list[tuple[int, int]] = []
        while len(stamps) < 3 and time.monotonic() < deadline:
            stamps += kernel_stamps.read_send_stamps(tx)
            time.sleep(0.001)
    assert [key for key, _ in stamps] == [0, 1, 2]
    for (_, stamp_ns), (before, after) in zip(stamps, windows, strict=True):
        assert before <= stamp_ns <= after


def _measure(monkeypatch: pytest.MonkeyPatch, *, send_stamps: bool) -> RttResult:
    if icmp_unavailable_reason():
        pytest.skip(f"ICMP cannot run here: {icmp_unavailable_reason()}")
    if not send_stamps:
        monkeypatch.setattr(kernel_stamps, "enable_send_stamps", lambda sock: False)
    record = run_collector(
        icmp.IcmpCollector(),
        "127.0.0.1",
        {"count": 20, "interval": "2ms", "scheduling": "normal"},
        MeasureContext(agent_id="test"),
    )
    assert record.status is Status.OK, record.error
    assert isinstance(record.result, RttResult)
    assert all(p.rtt_s is not None and p.rtt_s > 0 for p in record.result.probes)
    return record.result


@linux_only
def test_loopback_round_trips_use_kernel_send_and_receive_stamps(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    result = _measure(monkeypatch, send_stamps=True)
    assert result.details["send_timestamps"] == "kernel"
    assert result.details["receive_timestamps"] == "kernel"


def test_without_kernel_send_stamps_the_user_space_send_stamp_is_used_and_recorded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    result = _measure(monkeypatch, send_stamps=False)
    assert result.details["send_timestamps"] == "user space"
    assert len(result.probes) == 20


def test_stamp_sources_say_how_many_replies_had_kernel_stamps() -> None:
    stream = icmp._Stream(count=4, interval_ns=1, timeout_ns=1)
    for seq, (kernel_send, rtt) in enumerate([(True, 5), (True, 5), (False, 5), (False, None)]):
        stream.sent_ns.append(0)
        stream.rtt_ns[seq] = rtt
        stream.kernel_send[seq] = kernel_send
        stream.kernel_receive[seq] = True
    assert icmp._stamp_sources(stream) == {
        "send_timestamps": "kernel for 2 of 3 replies, else user space",
        "receive_timestamps": "kernel",
    }
