"""http_throughput on loopback: byte counts, intervals, warm-up, faults, deadlines.

Byte counts are checked against what the reference server itself counted; fault servers
(stall, reset, early close, garbage at the start or mid-test, busy) are small raw-socket
servers in this file.  Every fault must give a failed record with the reason and the
partial intervals, within the test's deadline.
"""

from __future__ import annotations

import itertools
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from qos.records import Measurement, Status, ThroughputResult
from qos_agent.collectors.base import MeasureContext, run_collector
from qos_agent.collectors.http_throughput import HttpThroughputCollector
from qos_agent.net.http_wire import ProtocolError, parse_response_head
from qos_agent.refserver import RunningHttpServer, start_http_server

FAST = {"warmup": "0.3s", "duration": "1.2s", "interval": "0.1s", "timeout": "0.8s"}


@pytest.fixture(scope="module")
def server() -> Iterator[RunningHttpServer]:
    running = start_http_server()
    yield running
    running.stop()


def _run(
    target: str, params: Mapping[str, Any], context: MeasureContext | None = None
) -> tuple[Measurement, ThroughputResult, float]:
    start = time.monotonic()
    m = run_collector(
        HttpThroughputCollector(), target, dict(params), context or MeasureContext(agent_id="test")
    )
    elapsed = time.monotonic() - start
    assert isinstance(m.result, ThroughputResult)
    return m, m.result, elapsed


def _deadline(params: Mapping[str, Any]) -> float:
    p = {**FAST, **params}
    return sum(float(p[k].rstrip("s")) for k in ("warmup", "duration", "timeout")) + 1.5


def _stats_delta(server: RunningHttpServer, before: dict[str, int]) -> dict[str, int]:
    assert server.server.wait_idle(5)
    after = server.server.stats.snapshot()
    return {k: after[k] - before[k] for k in after}


@pytest.mark.parametrize("direction", ["download", "upload"])
def test_time_bound_run_intervals_and_goodput(server: RunningHttpServer, direction: str) -> None:
    params = {**FAST, "direction": direction, "streams": 3}
    m, r, elapsed = _run(server.url, params)
    assert m.status is Status.OK, m.error
    assert elapsed < _deadline(params)
    assert r.streams == 3 and r.direction == direction and r.warmup_s == pytest.approx(0.3)
    for stream in range(3):
        ivs = [iv for iv in r.intervals if iv.stream == stream]
        assert 14 <= len(ivs) <= 16  # 1.5 s of 100 ms samples
        warm = [iv for iv in ivs if iv.warmup]
        assert sum(iv.duration_s for iv in warm) == pytest.approx(0.3, abs=0.06)
        assert all(
            a.start_offset_s + a.duration_s == pytest.approx(b.start_offset_s)
            for a, b in itertools.pairwise(ivs)
        )
    measured = [iv for iv in r.intervals if not iv.warmup]
    assert sum(iv.bytes for iv in measured) == r.details["measured_bytes"]
    assert r.duration_s == pytest.approx(1.2, abs=0.15)
    assert r.goodput_bps == pytest.approx(r.details["measured_bytes"] * 8 / r.duration_s)
    assert r.goodput_bps > 50e6  # loopback
    assert r.bytes_total >= sum(iv.bytes for iv in r.intervals)
    assert r.details["stopped_by"] == "duration"


def test_download_bytes_match_what_the_server_sent(server: RunningHttpServer) -> None:
    before = server.server.stats.snapshot()
    params = {
        **FAST,
        "streams": 2,
        "duration": "5s",
        "warmup": "0s",
        "max_bytes": 30_000_000,
        "request_size": 4_000_000,
    }
    m, r, _ = _run(server.url, params)
    assert m.status is Status.OK, m.error
    delta = _stats_delta(server, before)
    assert r.details["stopped_by"] == "max_bytes"
    assert r.details["body_bytes"] == delta["bytes_sent"] == 30_000_000
    assert r.bytes_total - r.details["http_head_bytes"] == 30_000_000
    assert sum(iv.bytes for iv in r.intervals) == r.bytes_total
    assert r.details["requests"] == delta["downloads"] == 8  # 2 × (4+4+4+3) MB


def test_upload_bytes_match_what_the_server_received(server: RunningHttpServer) -> None:
    before = server.server.stats.snapshot()
    params = {
        **FAST,
        "direction": "upload",
        "streams": 2,
        "duration": "5s",
        "warmup": "0s",
        "max_bytes": 30_000_000,
        "request_size": 4_000_000,
    }
    m, r, _ = _run(server.url, params)
    assert m.status is Status.OK, m.error
    delta = _stats_delta(server, before)
    assert r.details["counting"] == "tcp_info bytes_acked"
    assert delta["bytes_received"] == r.details["server_confirmed_bytes"] == 30_000_000
    assert r.bytes_total - r.details["http_head_bytes"] == 30_000_000  # acked = sent, exactly


def test_time_bound_counts_agree_with_the_server(server: RunningHttpServer) -> None:
    for direction in ("download", "upload"):
        before = server.server.stats.snapshot()
        m, r, _ = _run(server.url, {**FAST, "direction": direction, "streams": 2})
        assert m.status is Status.OK, m.error
        delta = _stats_delta(server, before)
        ours = r.bytes_total - r.details["http_head_bytes"]
        theirs = delta["bytes_sent" if direction == "download" else "bytes_received"]
        # the connections are aborted at the deadline: only what sat in socket buffers differs
        assert ours == pytest.approx(theirs, rel=0.02), direction
        if direction == "download":
            assert r.details["body_bytes"] <= theirs


def test_max_bytes_inside_warmup_is_an_error(server: RunningHttpServer) -> None:
    m, r, _ = _run(server.url, {**FAST, "warmup": "1s", "max_bytes": 1000})
    assert m.status is Status.ERROR and "warm-up" in (m.error or "")
    assert r.goodput_bps is None and r.bytes_total >= 1000


def test_refused_port_is_unreachable_quickly() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    m, r, elapsed = _run(f"http://127.0.0.1:{port}", FAST)
    assert m.status is Status.UNREACHABLE and "refused" in (m.error or "").lower()
    assert elapsed < 2 and r.goodput_bps is None


@pytest.mark.parametrize("target", ["ftp://127.0.0.1:1", "http://", "http://127.0.0.1:99999"])
def test_bad_targets_are_errors(target: str) -> None:
    m, _, _ = _run(target, FAST)
    assert m.status is Status.ERROR and m.error


def test_agent_shutdown_stops_the_test(server: RunningHttpServer) -> None:
    context = MeasureContext(agent_id="test")
    threading.Timer(0.5, context.stop.set).start()
    m, r, elapsed = _run(server.url, {**FAST, "duration": "10s"}, context)
    assert elapsed < 2.5
    assert m.status is Status.ERROR and "shutdown" in (m.error or "")
    assert r.intervals and r.goodput_bps is None


# fault servers ---------------------------------------------------------------------------
class FakeServer:
    """Accepts connections on loopback and hands each to ``behaviour`` in its own thread."""

    def __init__(self, behaviour: Callable[[socket.socket, threading.Event], None]) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.closing = threading.Event()
        self.behaviour = behaviour
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.closing.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            self.behaviour(conn, self.closing)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.closing.set()
        self.thread.join(2)
        self.listener.close()


def _read_request(conn: socket.socket) -> int:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            raise ConnectionError("client went away")
        data += chunk
    match = re.search(rb"bytes=(\d+)", data)
    return int(match.group(1)) if match else 0


def _head(length: int) -> bytes:
    return f"HTTP/1.1 200 OK\r\nContent-Length: {length}\r\n\r\n".encode()


def stall(conn: socket.socket, closing: threading.Event) -> None:
    conn.sendall(_head(_read_request(conn)) + b"\xaa" * 2_000_000)
    closing.wait(10)


def reset(conn: socket.socket, closing: threading.Event) -> None:
    conn.sendall(_head(_read_request(conn)) + b"\xaa" * 2_000_000)
    time.sleep(0.5)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")


def close_early(conn: socket.socket, closing: threading.Event) -> None:
    size = _read_request(conn)
    conn.sendall(_head(size) + b"\xaa" * 1_000_000)
    time.sleep(0.5)
    conn.shutdown(socket.SHUT_WR)


def garbage_at_start(conn: socket.socket, closing: threading.Event) -> None:
    _read_request(conn)
    conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n" + bytes(range(256)) * 100)
    closing.wait(10)


def garbage_mid_test(conn: socket.socket, closing: threading.Event) -> None:
    for _ in range(3):
        size = _read_request(conn)
        conn.sendall(_head(size) + b"\xaa" * size)
    _read_request(conn)
    time.sleep(0.5)
    conn.sendall(b"\x00\xffnot http at all\r\n\r\n")
    closing.wait(10)


def busy(conn: socket.socket, closing: threading.Event) -> None:
    _read_request(conn)
    conn.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
    closing.wait(10)


def upload_not_read(conn: socket.socket, closing: threading.Event) -> None:
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    _read_request(conn)
    closing.wait(10)  # never reads the body: the client's send blocks


FAULTS = [
    ("download", stall, Status.TIMEOUT, "stalled"),
    ("download", reset, Status.ERROR, "reset"),
    ("download", close_early, Status.ERROR, "closed by server"),
    ("download", garbage_at_start, Status.ERROR, "invalid reply"),
    ("download", garbage_mid_test, Status.ERROR, "invalid reply"),
    ("download", busy, Status.ERROR, "503"),
    ("upload", upload_not_read, Status.TIMEOUT, "stalled"),
]


@pytest.mark.parametrize(
    ("direction", "behaviour", "status", "reason"), FAULTS, ids=[f[1].__name__ for f in FAULTS]
)
def test_faults_give_failed_records_with_partial_intervals(
    direction: str,
    behaviour: Callable[[socket.socket, threading.Event], None],
    status: Status,
    reason: str,
) -> None:
    fake = FakeServer(behaviour)
    params = {
        **FAST,
        "direction": direction,
        "streams": 2,
        "duration": "3s",
        "request_size": 300_000 if behaviour is garbage_mid_test else 50_000_000,
    }
    try:
        m, r, elapsed = _run(fake.url, params)
    finally:
        fake.close()
    assert m.status is status, (m.status, m.error)
    assert reason in (m.error or ""), m.error
    assert m.error and m.error.startswith("stream ")
    assert elapsed < _deadline(params), f"took {elapsed:.2f} s"
    assert r.goodput_bps is None
    assert r.details["stopped_by"] == "failure"
    if behaviour not in (busy, garbage_at_start):
        assert r.intervals, "partial intervals were not kept"
        if direction == "download":
            assert sum(iv.bytes for iv in r.intervals) >= 1_000_000


def test_parse_response_head() -> None:
    head = parse_response_head(b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\nConnection: close")
    assert (head.status, head.content_length, head.keep_alive) == (200, 12, False)
    assert head.head_bytes == len(b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\nConnection: close") + 4
    for bad in (
        b"SSH-2.0-x",
        b"HTTP/1.1 2000 OK",
        b"HTTP/1.1 200 OK\r\nno colon",
        b"HTTP/1.1 200 OK\r\nContent-Length: -5",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked",
    ):
        with pytest.raises(ProtocolError):
            parse_response_head(bad)
