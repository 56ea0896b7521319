"""speedtest collector against the reference server, offline (docs/methods.md §12.7).

Never online: every target here is a loopback server.  Checks byte counts against the
server's own counters, the measurement window, the min-interval gate and the 403/429
backoff persisted in the state file.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from qos.records import Status, ThroughputResult
from qos_agent.collectors.base import MeasureContext, run_collector
from qos_agent.collectors.speedtest import (
    SpeedtestCollector,
    import_speedtest,
    measurement_window,
    mini_base_url,
)
from qos_agent.refserver import RunningHttpServer, ServerLimits, start_http_server
from qos_agent.refserver.speedtest_compat import INDEX_HTML, JPEG_SIZES, LATENCY_BODY, config_xml

ALL_JPEG_BYTES = sum(JPEG_SIZES.values())


@pytest.fixture(scope="module")
def server() -> Iterator[RunningHttpServer]:
    running = start_http_server(limits=ServerLimits(speedtest_test_length_s=10))
    yield running
    running.stop()


def _run(target: str, params: dict[str, object], state: Path):
    m = run_collector(
        SpeedtestCollector(),
        target,
        {"state_file": str(state), **params},
        MeasureContext(agent_id="test"),
    )
    return m


def test_import_does_not_take_over_stdout() -> None:
    already = "speedtest" in sys.modules
    module = import_speedtest()
    if not already:
        assert not isinstance(module._py3_utf8_stdout, module._Py3Utf8Output)
    assert sys.stdout is sys.__stdout__ or sys.stdout is not None


def test_download_counts_what_the_server_sent(server: RunningHttpServer, tmp_path: Path) -> None:
    server.server.wait_idle()
    before = server.server.stats.snapshot()
    m = _run(server.url, {"min_interval": 0}, tmp_path / "s.json")
    assert m.status is Status.OK, m.error
    r = m.result
    assert isinstance(r, ThroughputResult) and r.direction == "download"
    assert server.server.wait_idle(10)
    sent = server.server.stats.snapshot()["bytes_sent"] - before["bytes_sent"]
    # on loopback every file completes well within the 10 s test length: 4 requests per size
    assert r.bytes_total == sent == 4 * ALL_JPEG_BYTES
    assert sum(iv.bytes for iv in r.intervals) == r.bytes_total
    assert r.streams == 8  # 2 × threadcount from the server's config
    assert r.goodput_bps == pytest.approx(r.details["measured_bytes"] * 8 / r.duration_s)
    assert r.goodput_bps > 10e6
    assert r.details["config_source"].endswith("/speedtest/speedtest-config.php")
    assert r.details["speedtest_cli_bps"] > 0
    # its "ping" is kept as a labelled figure, never as an RTT result
    assert r.details["speedtest_latency_figure_s"] > 0
    assert "not a round-trip time" in r.details["latency_note"]


def test_upload_counts_what_the_server_received(server: RunningHttpServer, tmp_path: Path) -> None:
    server.server.wait_idle()
    before = server.server.stats.snapshot()
    m = _run(
        server.url + "/speedtest/", {"direction": "upload", "min_interval": 0}, tmp_path / "s.json"
    )
    assert m.status is Status.OK, m.error
    r = m.result
    assert isinstance(r, ThroughputResult) and r.direction == "upload"
    assert server.server.wait_idle(10)
    received = server.server.stats.snapshot()["bytes_received"] - before["bytes_received"]
    expected = 17 * (524288 + 1048576 + 7340032)  # ratio 5, 50 chunks → 17 per size
    assert r.bytes_total == received == expected
    assert r.streams == 8
    # intervals count TCP-acknowledged transport payload: bodies plus the request heads
    assert 0 <= sum(iv.bytes for iv in r.intervals) - expected < 51 * 1024


def test_min_interval_skips_and_persists(server: RunningHttpServer, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    first = _run(server.url, {"min_interval": "1h", "direction": "upload"}, state)
    assert first.status is Status.OK, first.error
    second = _run(server.url, {"min_interval": "1h", "direction": "upload"}, state)
    assert second.status is Status.SKIPPED and "min_interval" in (second.error or "")
    saved = json.loads(state.read_text())
    assert saved["servers"][server.url]["last_run"] == pytest.approx(
        first.started_at.timestamp(), abs=1e-3
    )


class _Blocking(BaseHTTPRequestHandler):
    """A mini server that answers its index and latency.txt but 429s every download."""

    protocol_version = "HTTP/1.0"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path in ("/", ""):
            body, code = INDEX_HTML, 200
        elif path.endswith("/latency.txt"):
            body, code = LATENCY_BODY, 200
        elif "/random" in path:
            body, code = b"slow down", 429
        else:
            body, code = b"no", 404
        self.send_response(code)
        if code == 429:
            self.send_header("Retry-After", "7200")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextlib.contextmanager
def _serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """``handler`` served on loopback by a threading HTTP server; yields its base URL."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def blocking_server() -> Iterator[str]:
    with _serving(_Blocking) as url:
        yield url


def test_http_429_starts_a_persisted_backoff(blocking_server: str, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    start = time.time()
    m = _run(blocking_server, {"min_interval": 0, "backoff": "10min"}, state)
    assert m.status is Status.ERROR
    assert "HTTP 429" in (m.error or "") and "backing off" in (m.error or "")
    assert isinstance(m.result, ThroughputResult) and m.result.goodput_bps is None
    assert m.result.details["config_source"] == "built-in speedtest.net defaults"  # no config
    assert m.result.details["http_errors"]["429"] == 40
    saved = json.loads(state.read_text())["servers"][blocking_server.rstrip("/")]
    assert saved["consecutive_blocks"] == 1
    # Retry-After (2 h) beats the 10 min backoff
    assert saved["blocked_until"] == pytest.approx(start + 7200, abs=30)
    again = _run(blocking_server, {"min_interval": 0}, state)
    assert again.status is Status.SKIPPED and "backing off" in (again.error or "")


def test_refused_server_is_unreachable(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    start = time.monotonic()
    m = _run(f"http://127.0.0.1:{port}/", {"min_interval": 0, "timeout": "2s"}, tmp_path / "s.json")
    assert m.status is Status.UNREACHABLE, m.error
    assert time.monotonic() - start < 10


def test_bad_target_is_an_error(tmp_path: Path) -> None:
    m = _run("ftp://example/", {"min_interval": 0}, tmp_path / "s.json")
    assert m.status is Status.ERROR and "expected http" in (m.error or "")


@pytest.mark.parametrize(
    ("target", "base"),
    [
        ("http://h:1/", "http://h:1"),
        ("http://h:1/speedtest/", "http://h:1"),
        ("http://h:1/mini/speedtest/upload.php", "http://h:1/mini"),
        ("http://h:1", "http://h:1"),
    ],
)
def test_mini_base_url(target: str, base: str) -> None:
    assert mini_base_url(target) == base


def test_measurement_window_excludes_warmup_and_tail() -> None:
    s = 1_000_000_000
    # 1 MB per 100 ms from t=0.1 s; the test length ends at 3 s, a slow tail follows
    samples = [(i * s // 10, max(0, i - 1) * 1_000_000) for i in range(31)]
    samples += [(31 * s // 10, 29_100_000), (32 * s // 10, 29_150_000)]
    first, last, note = measurement_window(
        samples, start_ns=s // 10, warmup_ns=s, length_ns=29 * s // 10
    )
    assert note is None
    assert first == (11 * s // 10, 10_000_000) and last == (30 * s // 10, 29_000_000)
    rate = (last[1] - first[1]) * 8 / ((last[0] - first[0]) / 1e9)
    assert rate == pytest.approx(80e6)


def test_measurement_window_when_data_ends_inside_warmup() -> None:
    s = 1_000_000_000
    samples = [(0, 0), (s // 10, 5_000_000), (2 * s // 10, 9_000_000), (3 * s // 10, 9_000_000)]
    first, last, note = measurement_window(samples, start_ns=0, warmup_ns=2 * s, length_ns=10 * s)
    assert note and "warm-up not excluded" in note
    assert first == (0, 0) and last == (2 * s // 10, 9_000_000)


class _Faulty(BaseHTTPRequestHandler):
    """A mini server whose downloads stall (``stall``) or reset (``reset``) after 100 kB."""

    protocol_version = "HTTP/1.0"
    mode = "stall"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if "/random" not in path:
            body = {
                "/speedtest/latency.txt": LATENCY_BODY,
                "/speedtest/speedtest-config.php": config_xml(client_ip="x", test_length_s=3),
            }.get(path, INDEX_HTML)
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(200)
        self.send_header("Content-Length", "10000000")
        self.end_headers()
        self.wfile.write(b"\x55" * 100_000)
        if self.mode == "reset":
            self.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
            )
        else:
            time.sleep(4)


@pytest.mark.parametrize(
    ("mode", "status", "words"),
    [
        ("stall", Status.TIMEOUT, ("TimeoutError",)),
        ("reset", Status.ERROR, ("body bytes missing", "reset by peer")),
    ],
)
def test_stalling_or_resetting_server_fails_within_the_deadline(
    tmp_path: Path, mode: str, status: Status, words: tuple[str, ...]
) -> None:
    handler = type("Handler", (_Faulty,), {"mode": mode})
    with _serving(handler) as url:
        start = time.monotonic()
        m = _run(
            url,
            {"min_interval": 0, "timeout": "1s", "warmup": "0.5s"},
            tmp_path / "s.json",
        )
        elapsed = time.monotonic() - start
    assert m.status is status, (m.status, m.error, dict(m.result.details) if m.result else None)
    assert any(word in (m.error or "") for word in words), m.error
    assert elapsed < 3 + 1 + 2 + 2  # test length + one socket timeout + slack + setup
    r = m.result
    assert isinstance(r, ThroughputResult) and r.goodput_bps is None
    assert sum(iv.bytes for iv in r.intervals) >= 100_000  # partial data kept


class _SlowFirstUpload(BaseHTTPRequestHandler):
    """A mini server that holds its reply to the first upload for ``hold_s`` seconds.

    It stands for one slow connection among speedtest-cli's upload requests (in the lab: a
    connection stuck at a low BBR pacing rate).  ``events`` records, per POST, its arrival
    order and when its reply went out.
    """

    protocol_version = "HTTP/1.0"
    hold_s = 2.0
    lock = threading.Lock()
    events: ClassVar[list[tuple[int, float, float]]] = []  # (order, arrived, replied)

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _reply(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        self._reply(
            {
                "/speedtest/latency.txt": LATENCY_BODY,
                "/speedtest/speedtest-config.php": config_xml(client_ip="x", test_length_s=5),
                "/speedtest/upload.php": b"size=0",
            }.get(path, INDEX_HTML)
        )

    def do_POST(self) -> None:
        with self.lock:
            order = self._arrivals()
        arrived = time.monotonic()
        length = int(self.headers["Content-Length"])
        while length > 0:
            chunk = self.rfile.read(min(length, 1 << 20))
            if not chunk:
                return
            length -= len(chunk)
        if order == 0:
            time.sleep(self.hold_s)
        self._reply(b"size=1")
        with self.lock:
            self.events.append((order, arrived, time.monotonic()))

    _count: ClassVar[int] = 0

    @classmethod
    def _arrivals(cls) -> int:
        order = cls._count
        cls._count += 1
        return order


@pytest.mark.parametrize("scheduling", ["continuous", "fifo"])
def test_upload_scheduling_around_one_slow_request(tmp_path: Path, scheduling: str) -> None:
    """continuous keeps the other 7 slots busy while one request is slow (all 50 others ran
    during the hold here); fifo (speedtest-cli's own) lets the requests already started
    finish, frees only the slots older than the slow one, then starts nothing (7-8 here)."""
    handler = type("Handler", (_SlowFirstUpload,), {"events": [], "_count": 0})
    with _serving(handler) as url:
        m = _run(
            url,
            {"direction": "upload", "min_interval": 0, "upload_scheduling": scheduling},
            tmp_path / "s.json",
        )
    assert m.status is Status.OK, m.error
    events = sorted(handler.events)
    assert events and events[0][0] == 0
    _, held_from, held_until = events[0]
    assert held_until - held_from >= _SlowFirstUpload.hold_s
    # requests that arrived and were answered while the first one was held
    during = [e for e in events[1:] if e[1] < held_until and e[2] < held_until]
    started_during = [e for e in events[1:] if held_from < e[1] < held_until]
    if scheduling == "fifo":
        # the held request is the first to *arrive*, speedtest-cli's request k <= 7; the FIFO
        # join frees the k slots of the older ones and then waits: <= 7 + 7 start meanwhile
        assert len(started_during) <= 14, started_during
    else:
        assert len(during) >= 20, (len(during), len(events))
    r = m.result
    assert isinstance(r, ThroughputResult) and r.streams == 8


class _SlowFirstDownload(_SlowFirstUpload):
    """The same mini server for downloads: the first image request to arrive is answered
    only after ``hold_s``; every other image is a small body sent at once."""

    def do_GET(self) -> None:
        if "/random" not in self.path:
            super().do_GET()
            return
        with self.lock:
            order = self._arrivals()
        arrived = time.monotonic()
        if order == 0:
            time.sleep(self.hold_s)
        self._reply(b"x" * 20_000)
        with self.lock:
            self.events.append((order, arrived, time.monotonic()))


@pytest.mark.parametrize("scheduling", ["continuous", "fifo"])
def test_download_scheduling_around_one_slow_request(tmp_path: Path, scheduling: str) -> None:
    """As for upload: continuous keeps the other slots busy while one image request is
    slow; fifo (speedtest-cli's own download) starts at most the slots older than the
    slow one and then waits for it."""
    handler = type("Handler", (_SlowFirstDownload,), {"events": [], "_count": 0})
    with _serving(handler) as url:
        m = _run(
            url,
            {"direction": "download", "min_interval": 0, "download_scheduling": scheduling},
            tmp_path / "s.json",
        )
    assert m.status is Status.OK, m.error
    events = sorted(handler.events)
    assert events and events[0][0] == 0
    _, held_from, held_until = events[0]
    started_during = [e for e in events[1:] if held_from < e[1] < held_until]
    during = [e for e in events[1:] if e[1] < held_until and e[2] < held_until]
    if scheduling == "fifo":
        assert len(started_during) <= 14, started_during
    else:
        assert len(during) >= 20, (len(during), len(events))


def test_a_test_that_starts_and_ends_between_two_samples_keeps_its_bytes() -> None:
    """A download that fails within one sampling period (a reset right after the first
    bytes, on a busy host) still leaves the bytes it read in the record's intervals."""
    from qos_agent.collectors.speedtest.collector import (
        ShutdownEvent,
        Traffic,
        _Outcome,
        _sample_until_done,
    )

    box: dict = {}
    worker = threading.Thread(target=lambda: box.update(t0=time.monotonic_ns(), c0=0))
    worker.start()
    worker.join()  # started and ended before the sampler first looks
    read_by_the_test = 100_000
    samples = _sample_until_done(
        worker,
        box,
        lambda: (time.monotonic_ns(), read_by_the_test),
        {"interval": 0.1, "timeout": 1.0},
        MeasureContext(agent_id="t"),
        ShutdownEvent(),
        _Outcome(traffic=Traffic()),
    )
    assert samples[0] == (box["t0"], 0)
    assert samples[-1][1] - samples[0][1] == read_by_the_test
