"""The native iperf3 client against Debian's real ``iperf3 -s`` on loopback (docs/methods.md §12.6).

Codec tests use messages captured from iperf3 3.12 (``iperf3 --debug``); everything else
runs our collector against a real server started by the test, and checks what we measured
against what the server itself counted in the same test (its EXCHANGE_RESULTS), or against
Debian's own iperf3 client.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from qos.errors import ParameterError
from qos.records import Status
from qos_agent.collectors import get
from qos_agent.collectors.base import MeasureContext, run_collector
from qos_agent.net import iperf3_wire as protocol
from qos_agent.net.iperf3_wire import ProtocolError, State

IPERF3 = shutil.which("iperf3")
needs_iperf3 = pytest.mark.skipif(IPERF3 is None, reason="Debian package iperf3 not installed")

# get_results as printed by `iperf3 --debug` (3.12, UDP, 2 streams, loopback): the server's
# half of EXCHANGE_RESULTS, with cJSON's unsigned rendering of -1.
SERVER_RESULTS_3_12 = {
    "cpu_util_total": 0.98550815441260775,
    "cpu_util_user": 0.9854748275669003,
    "cpu_util_system": 0,
    "sender_has_retransmits": 1.8446744073709552e19,
    "streams": [
        {
            "id": 1,
            "bytes": 2500800,
            "retransmits": 1.8446744073709552e19,
            "jitter": 1.1002053625068981e-05,
            "errors": 0,
            "packets": 3125,
            "start_time": 0,
            "end_time": 2.000471,
        },
        {
            "id": 3,
            "bytes": 2500800,
            "retransmits": 1.8446744073709552e19,
            "jitter": 1.0736842363977791e-05,
            "errors": 0,
            "packets": 3125,
            "start_time": 0,
            "end_time": 2.000472,
        },
    ],
}


# --- codec ---------------------------------------------------------------------------------
def test_cookie_is_36_base32_characters_and_nul() -> None:
    cookie = protocol.make_cookie()
    assert len(cookie) == protocol.COOKIE_SIZE == 37
    assert cookie.endswith(b"\0")
    assert set(cookie[:-1].decode()) <= set("abcdefghijklmnopqrstuvwxyz234567")
    assert protocol.make_cookie() != cookie


def test_states_are_signed_bytes() -> None:
    assert protocol.encode_state(State.ACCESS_DENIED) == b"\xff"
    assert protocol.encode_state(State.SERVER_ERROR) == b"\xfe"
    assert protocol.encode_state(State.IPERF_DONE) == b"\x10"
    assert protocol.decode_state(b"\x09") is State.PARAM_EXCHANGE
    assert protocol.decode_state(b"\xff") is State.ACCESS_DENIED
    with pytest.raises(ProtocolError, match="unknown control state 85"):
        protocol.decode_state(b"U")


def test_json_framing_is_big_endian_length_prefixed() -> None:
    frame = protocol.encode_json({"tcp": True, "time": 10})
    body = b'{"tcp":true,"time":10}'
    assert frame == len(body).to_bytes(4, "big") + body
    assert protocol.decode_length(frame[:4]) == len(body)
    assert protocol.decode_json(frame[4:]) == {"tcp": True, "time": 10}
    with pytest.raises(ProtocolError, match="announced"):
        protocol.decode_length(b"\xff\xff\xff\xff")
    with pytest.raises(ProtocolError, match="malformed JSON"):
        protocol.decode_json(b"{nope")


def test_parameters_use_iperf3_names() -> None:
    spec = protocol.TestSpec(
        protocol="udp",
        reverse=True,
        streams=4,
        duration_s=5,
        omit_s=2,
        length=1200,
        rate_bps=10_000_000,
    )
    assert protocol.parameters(spec, "3.12") == {
        "udp": True,
        "omit": 2,
        "time": 5,
        "parallel": 4,
        "len": 1200,
        "reverse": True,
        "bandwidth": 10_000_000,
        "client_version": "3.12",
    }
    with pytest.raises(ValueError):
        protocol.TestSpec(protocol="udp", length=8)


def test_stream_ids_skip_two_like_iperf_add_stream() -> None:
    assert protocol.stream_ids(4) == [1, 3, 4, 5]


def test_parse_real_server_results() -> None:
    results = protocol.parse_results(SERVER_RESULTS_3_12)
    assert [s.id for s in results.streams] == [1, 3]
    assert results.streams[0].retransmits is None  # cJSON's 2**64-1 means "unknown"
    assert results.streams[0].jitter_s == pytest.approx(1.1002e-05, rel=1e-4)
    assert results.streams[1].packets == 3125
    assert results.sender_has_retransmits == -1
    broken = dict(SERVER_RESULTS_3_12, streams=[{"id": 1}])
    with pytest.raises(ProtocolError, match="lacks"):
        protocol.parse_results(broken)


@pytest.mark.parametrize("wide", [False, True])
def test_udp_header_round_trip(wide: bool) -> None:
    buffer = bytearray(64)
    protocol.pack_udp_header(buffer, 1_700_000_000, 999_999, 123_456, wide)
    assert protocol.unpack_udp_header(buffer, wide) == (1_700_000_000, 999_999, 123_456)
    assert buffer[:4] == (1_700_000_000).to_bytes(4, "big")


# --- against the real server ---------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening(port: int) -> bool:
    text = Path("/proc/net/tcp").read_text()
    return any(
        line.split()[1].endswith(f":{port:04X}") and line.split()[3] == "0A"
        for line in text.splitlines()[1:]
    )


class Server:
    def __init__(self) -> None:
        self.port = _free_port()
        assert IPERF3 is not None
        self.proc = subprocess.Popen(
            [IPERF3, "-s", "-p", str(self.port), "-B", "127.0.0.1"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 5
        while not _listening(self.port):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("iperf3 -s did not start listening")
            time.sleep(0.05)
        self.target = f"127.0.0.1:{self.port}"

    def client(self, *args: str) -> subprocess.Popen[str]:
        assert IPERF3 is not None
        return subprocess.Popen(
            [IPERF3, "-c", "127.0.0.1", "-p", str(self.port), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server()
    yield srv
    srv.stop()


def measure(target: str, stop: threading.Event | None = None, **params: object):  # type: ignore[no-untyped-def]
    context = MeasureContext(agent_id="test", stop=stop or threading.Event())
    return run_collector(get("iperf3"), target, params, context)


def _measured(result) -> list:  # type: ignore[no-untyped-def]
    return [i for i in result.intervals if not i.warmup]


@needs_iperf3
def test_tcp_forward_matches_what_the_server_received(server: Server) -> None:
    m = measure(server.target, duration=2, omit=1, interval=0.25)
    assert m.status is Status.OK, m.error
    r = m.result
    assert r.direction == "upload" and r.streams == 1 and r.warmup_s == 1
    assert r.goodput_bps > 0
    # our sender-side acknowledged bytes vs the server's own receive count, same test
    assert r.goodput_bps == pytest.approx(r.details["server_rate_bps"], rel=0.05)
    assert sum(i.bytes for i in _measured(r)) == r.details["bytes_measured"]
    assert any(i.warmup for i in r.intervals)
    assert r.bytes_total >= r.details["bytes_measured"]
    assert r.details["retransmits"] >= 0


@needs_iperf3
def test_tcp_reverse_four_streams(server: Server) -> None:
    m = measure(server.target, duration=2, omit=1, streams=4, reverse=True, interval=0.25)
    assert m.status is Status.OK, m.error
    r = m.result
    assert r.direction == "download" and r.streams == 4
    assert {i.stream for i in r.intervals} == {0, 1, 2, 3}
    for stream in range(4):
        assert sum(i.bytes for i in _measured(r) if i.stream == stream) > 0
    # what we received vs what the server says it sent after its warm-up
    assert r.goodput_bps == pytest.approx(r.details["server_rate_bps"], rel=0.05)


@needs_iperf3
@pytest.mark.parametrize("reverse", [False, True])
def test_udp_at_a_set_rate_reports_loss_and_jitter(server: Server, reverse: bool) -> None:
    rate = 20e6
    m = measure(
        server.target, protocol="udp", rate=rate, length=1400, duration=3, omit=1, reverse=reverse
    )
    assert m.status is Status.OK, m.error
    r, d = m.result, m.result.details
    assert r.goodput_bps == pytest.approx(rate, rel=0.03)
    assert d["loss_source"] == ("client" if reverse else "server")
    assert d["udp_packets"] > 0.9 * rate * 4 / 8 / 1400  # counters cover warm-up + test
    assert 0 <= d["loss_ratio"] <= 0.01  # loopback at 20 Mbit/s
    assert d["jitter_rfc3550_s"] is not None and 0 <= d["jitter_rfc3550_s"] < 0.005
    assert len(d["jitter_rfc3550_s_per_stream"]) == 1


@needs_iperf3
def test_busy_server_is_retried_then_recorded(server: Server) -> None:
    other = server.client("-t", "15", "-b", "1M")
    try:
        time.sleep(1.0)
        started = time.monotonic()
        m = measure(server.target, duration=2, omit=0, busy_retries=2, busy_backoff=0.2)
        elapsed = time.monotonic() - started
    finally:
        other.terminate()
        other.communicate()
    assert m.status is Status.ERROR
    assert m.error.startswith("server busy") and "3 attempts" in m.error
    assert m.result.details["attempts"] == 3
    assert len(m.result.details["busy_waits_s"]) == 2
    assert elapsed < 3.0  # two short backoffs, no test time spent


@needs_iperf3
def test_busy_server_frees_up_and_the_retry_succeeds(server: Server) -> None:
    other = server.client("-t", "2", "-b", "1M")
    try:
        time.sleep(0.5)
        m = measure(server.target, duration=1, omit=0, busy_retries=4, busy_backoff=1.0)
    finally:
        other.communicate()
    assert m.status is Status.OK, m.error
    assert m.result.details["attempts"] > 1


@needs_iperf3
def test_goodput_next_to_debian_iperf3_client(server: Server) -> None:
    """Same settings, back to back on loopback: CPU-bound, so this checks efficiency."""
    real = server.client("-t", "3", "-O", "1", "-P", "2", "-J")
    out, _ = real.communicate(timeout=30)
    real_bps = json.loads(out)["end"]["sum_received"]["bits_per_second"]
    time.sleep(0.3)
    m = measure(server.target, duration=3, omit=1, streams=2)
    assert m.status is Status.OK, m.error
    ratio = m.result.goodput_bps / real_bps
    print(
        f"loopback TCP 2 streams: ours {m.result.goodput_bps / 1e9:.2f} Gbit/s, "
        f"iperf3 {real_bps / 1e9:.2f} Gbit/s, ratio {ratio:.2f}"
    )
    assert ratio > 0.25


@needs_iperf3
def test_stalled_server_gives_failed_record_with_partial_intervals(server: Server) -> None:
    def freeze() -> None:
        time.sleep(1.5)
        os.kill(server.proc.pid, signal.SIGSTOP)

    threading.Thread(target=freeze, daemon=True).start()
    started = time.monotonic()
    m = measure(server.target, duration=6, omit=0, timeout=1.5, reverse=True, interval=0.25)
    elapsed = time.monotonic() - started
    assert m.status is not Status.OK
    assert "stalled" in m.error
    assert m.result.goodput_bps is None
    assert sum(i.bytes for i in m.result.intervals) > 0  # what arrived before the stall
    assert elapsed < 6 + 3 * 1.5


@needs_iperf3
def test_killed_server_gives_failed_record_with_partial_intervals(server: Server) -> None:
    def kill() -> None:
        time.sleep(1.5)
        server.proc.kill()

    threading.Thread(target=kill, daemon=True).start()
    started = time.monotonic()
    m = measure(server.target, duration=6, omit=0, timeout=2, interval=0.25)
    assert m.status is Status.ERROR
    assert m.error
    assert m.result.intervals and sum(i.bytes for i in m.result.intervals) > 0
    assert time.monotonic() - started < 5


@needs_iperf3
def test_agent_shutdown_stops_the_test_early(server: Server) -> None:
    stop = threading.Event()
    threading.Timer(1.0, stop.set).start()
    started = time.monotonic()
    m = measure(server.target, stop=stop, duration=10, omit=0)
    assert m.status is Status.ERROR and "stopped" in m.error
    assert time.monotonic() - started < 3
    assert m.result.intervals


def test_nothing_listening_is_unreachable() -> None:
    m = measure(f"127.0.0.1:{_free_port()}", duration=1, omit=0)
    assert m.status is Status.UNREACHABLE
    assert "cannot connect" in m.error


def _fake_server(behaviour: str) -> tuple[socket.socket, threading.Thread]:
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(protocol.COOKIE_SIZE)
            if behaviour == "garbage":
                conn.sendall(b"U")
            time.sleep(3)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener, thread


@pytest.mark.parametrize("behaviour", ["garbage", "silent"])
def test_garbage_or_silence_from_the_server_never_hangs(behaviour: str) -> None:
    listener, _ = _fake_server(behaviour)
    try:
        started = time.monotonic()
        m = measure(f"127.0.0.1:{listener.getsockname()[1]}", duration=1, omit=0, timeout=1)
    finally:
        listener.close()
    assert m.status in (Status.ERROR, Status.TIMEOUT)
    assert "unknown control state" in m.error if behaviour == "garbage" else "silent" in m.error
    assert time.monotonic() - started < 2.5


def test_fractional_seconds_are_refused() -> None:
    with pytest.raises(ParameterError, match="whole seconds"):
        measure("127.0.0.1:1", duration=1.5)


@needs_iperf3
def test_congestion_control_is_negotiated_like_iperf3_dash_c(server: Server) -> None:
    m = measure(server.target, duration=1, omit=0, reverse=True, congestion="reno")
    assert m.status is Status.OK, m.error
    assert m.result.details["server_congestion_used"] == "reno"
    time.sleep(0.3)
    m = measure(server.target, duration=1, omit=0, congestion="no-such-cc")
    assert m.status is Status.ERROR
    assert "cannot use TCP congestion control 'no-such-cc'" in m.error


def _scripted_server(garbage: bytes, when: str) -> socket.socket:
    """A minimal iperf3 server that runs one TCP upload properly until ``when``
    (``running``: 1 s into the test; ``results``: as its results message), then sends
    ``garbage``."""
    listener = socket.create_server(("127.0.0.1", 0))

    def recv_exact(conn: socket.socket, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                raise ConnectionError
            data += chunk
        return data

    def drain(conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            while conn.recv(1 << 16):
                pass

    def serve() -> None:
        with contextlib.suppress(OSError, ConnectionError):
            ctrl, _ = listener.accept()
            with ctrl:
                recv_exact(ctrl, protocol.COOKIE_SIZE)
                ctrl.sendall(protocol.encode_state(State.PARAM_EXCHANGE))
                size = protocol.decode_length(recv_exact(ctrl, 4))
                recv_exact(ctrl, size)
                ctrl.sendall(protocol.encode_state(State.CREATE_STREAMS))
                data, _ = listener.accept()
                recv_exact(data, protocol.COOKIE_SIZE)
                threading.Thread(target=drain, args=(data,), daemon=True).start()
                ctrl.sendall(protocol.encode_state(State.TEST_START))
                ctrl.sendall(protocol.encode_state(State.TEST_RUNNING))
                if when == "running":
                    time.sleep(1.0)
                    ctrl.sendall(garbage)
                else:
                    recv_exact(ctrl, 1)  # TEST_END
                    ctrl.sendall(protocol.encode_state(State.EXCHANGE_RESULTS))
                    size = protocol.decode_length(recv_exact(ctrl, 4))
                    recv_exact(ctrl, size)
                    ctrl.sendall(garbage)
                time.sleep(2)

    threading.Thread(target=serve, daemon=True).start()
    return listener


@pytest.mark.parametrize(
    ("garbage", "when", "reason"),
    [
        (b"\x55", "running", "unknown control state 85"),
        (b"\xfe\x00\x00\x00\x07\x00\x00\x00\x68", "running", "SERVER_ERROR: iperf error 7"),
        (b"\xff\xff\xff\xff", "results", "announced"),
        (b"\x00\x00\x00\x05hello", "results", "malformed JSON"),
    ],
)
def test_garbage_mid_test_gives_failed_record_with_partial_intervals(
    garbage: bytes, when: str, reason: str
) -> None:
    listener = _scripted_server(garbage, when)
    try:
        started = time.monotonic()
        m = measure(f"127.0.0.1:{listener.getsockname()[1]}", duration=2, omit=0, timeout=2)
    finally:
        listener.close()
    assert m.status is Status.ERROR
    assert reason in m.error
    assert m.result.goodput_bps is None
    assert sum(i.bytes for i in m.result.intervals) > 0
    assert time.monotonic() - started < 5
