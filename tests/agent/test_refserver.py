"""Reference HTTP server: endpoints, bounds, busy replies, stalled clients, CLI."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from qos_agent.collectors.speedtest import parse_config_xml
from qos_agent.reference import ReferenceServices
from qos_agent.refserver import RunningHttpServer, ServerLimits, start_http_server
from qos_agent.refserver.speedtest_compat import JPEG_SIZES

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def server() -> Iterator[RunningHttpServer]:
    running = start_http_server(limits=ServerLimits(io_timeout_s=0.5, max_request_bytes=50_000_000))
    yield running
    running.stop()


def _wait_busy(running: RunningHttpServer) -> None:
    deadline = time.monotonic() + 5
    while running.server.stats.snapshot()["active_connections"] == 0:
        assert time.monotonic() < deadline, "server never picked up the connection"
        time.sleep(0.005)


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read()


def _post(url: str, body: bytes) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read()


def test_binds_loopback_by_default(server: RunningHttpServer) -> None:
    assert server.server.server_address[0] == "127.0.0.1"
    assert server.url.startswith("http://127.0.0.1:")


@pytest.mark.parametrize("path", ["/download?bytes=1234567", "/download/1234567"])
def test_download_sends_exactly_n_incompressible_bytes(
    server: RunningHttpServer, path: str
) -> None:
    status, body = _get(server.url + path)
    assert status == 200
    assert len(body) == 1234567
    assert len(zlib.compress(body, 9)) > 0.99 * len(body)  # random, not compressible
    server.server.wait_idle()
    assert server.server.stats.snapshot()["bytes_sent"] == 1234567


def test_two_downloads_differ(server: RunningHttpServer) -> None:
    assert _get(server.url + "/download/65536")[1] != _get(server.url + "/download/65536")[1]


def test_upload_sink_counts_bytes(server: RunningHttpServer) -> None:
    payload = os.urandom(3_000_001)
    status, body = _post(server.url + "/upload", payload)
    assert status == 200
    assert json.loads(body) == {"bytes_received": 3_000_001}
    server.server.wait_idle()
    assert server.server.stats.snapshot()["bytes_received"] == 3_000_001


def test_latency_endpoint_is_tiny(server: RunningHttpServer) -> None:
    assert _get(server.url + "/latency") == (200, b"pong")


def test_keep_alive_serves_several_requests_on_one_connection(server: RunningHttpServer) -> None:
    host, port = server.server.server_address[:2]
    with socket.create_connection((host, port), timeout=5) as sock:
        for _ in range(3):
            sock.sendall(b"GET /download/10 HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            while not data.endswith(b"\r\n\r\n") or len(data.split(b"\r\n\r\n", 1)[1]) < 10:
                if b"\r\n\r\n" in data and len(data.split(b"\r\n\r\n", 1)[1]) >= 10:
                    break
                chunk = sock.recv(4096)
                assert chunk, "server closed a keep-alive connection"
                data += chunk
            assert data.startswith(b"HTTP/1.1 200")


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/download?bytes=50000001", 413),
        ("/download?bytes=-1", 400),
        ("/download?bytes=x", 400),
        ("/download", 400),
        ("/nope", 404),
        ("/speedtest/random123x123.jpg", 404),
        ("/speedtest/random350x500.jpg", 404),
    ],
)
def test_bad_requests_get_clear_codes(server: RunningHttpServer, path: str, code: int) -> None:
    assert _get(server.url + path)[0] == code


def test_oversized_upload_is_refused_before_reading(server: RunningHttpServer) -> None:
    host, port = server.server.server_address[:2]
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 50000001\r\n\r\n")
        reply = sock.recv(4096)
    assert reply.startswith(b"HTTP/1.1 413")
    assert _post(server.url + "/upload", b"")[0] == 200  # server still fine


def test_upload_without_length_is_refused(server: RunningHttpServer) -> None:
    host, port = server.server.server_address[:2]
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 411")


def test_speedtest_endpoints(server: RunningHttpServer) -> None:
    assert _get(server.url + "/speedtest/latency.txt") == (200, b"test=test")
    assert _get(server.url + "/speedtest/upload.php") == (200, b"size=0")
    assert _get(server.url + "//speedtest/upload.php") == (200, b"size=0")  # as speedtest-cli asks
    assert _post(server.url + "/speedtest/upload.php", b"content1=" + b"0" * 991) == (
        200,
        b"size=1000",
    )
    status, index = _get(server.url + "/")
    assert status == 200 and b'upload_extension: "php"' in index
    for n, size in JPEG_SIZES.items():
        if size < 3_000_000:
            status, body = _get(f"{server.url}/speedtest/random{n}x{n}.jpg")
            assert (status, len(body)) == (200, size)
    status, xml = _get(server.url + "/speedtest/speedtest-config.php")
    config = parse_config_xml(xml)
    assert config["threads"] == {"upload": 2, "download": 8}
    assert config["sizes"]["upload"] == [524288, 1048576, 7340032]
    assert config["upload_max"] == 51
    assert config["length"] == {"upload": 10, "download": 10}


def test_jpeg_sizes_are_the_speedtest_mini_files() -> None:
    assert JPEG_SIZES[350] == 245_388 and JPEG_SIZES[4000] == 31_625_365
    assert sorted(JPEG_SIZES) == [350, 500, 750, 1000, 1500, 2000, 2500, 3000, 3500, 4000]


def test_connection_cap_answers_503() -> None:
    running = start_http_server(limits=ServerLimits(max_connections=1, io_timeout_s=2))
    try:
        host, port = running.server.server_address[:2]
        with socket.create_connection((host, port), timeout=5) as first:
            first.sendall(b"GET /latency HTTP/1.1\r\nHost: x\r\n\r\n")
            assert first.recv(4096).startswith(b"HTTP/1.1 200")  # holds the only slot (keep-alive)
            with socket.create_connection((host, port), timeout=5) as second:
                reply = second.recv(4096)
            assert reply.startswith(b"HTTP/1.1 503") and b"Retry-After" in reply
        assert running.server.wait_idle(5)
        assert running.server.stats.snapshot()["rejected_busy"] == 1
        assert _get(running.url + "/latency") == (200, b"pong")  # slot released
    finally:
        running.stop()


def test_stalled_download_client_is_dropped_after_the_idle_timeout(
    server: RunningHttpServer,
) -> None:
    host, port = server.server.server_address[:2]
    sock = socket.create_connection((host, port), timeout=5)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        sock.sendall(b"GET /download/40000000 HTTP/1.1\r\nHost: x\r\n\r\n")
        _wait_busy(server)
        start = time.monotonic()
        assert server.server.wait_idle(5), "a client that stopped reading pinned a thread"
        assert time.monotonic() - start < 3
    finally:
        sock.close()
    stats = server.server.stats.snapshot()
    assert stats["aborted"] == 1 and 0 < stats["bytes_sent"] < 40_000_000


def test_stalled_upload_client_is_dropped_after_the_idle_timeout(server: RunningHttpServer) -> None:
    host, port = server.server.server_address[:2]
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n")
        sock.sendall(b"x" * 1000)
        _wait_busy(server)
        assert server.server.wait_idle(5)
    stats = server.server.stats.snapshot()
    assert stats["aborted"] == 1 and stats["bytes_received"] == 1000


def test_request_duration_is_bounded() -> None:
    running = start_http_server(limits=ServerLimits(max_request_duration_s=0.3, io_timeout_s=5))
    try:
        host, port = running.server.server_address[:2]
        with socket.create_connection((host, port), timeout=5) as sock:
            sock.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n")
            deadline = time.monotonic() + 5
            with pytest.raises(OSError):  # the server gives up and closes: we get a reset/EPIPE
                while time.monotonic() < deadline:
                    sock.sendall(b"x" * 1000)
                    time.sleep(0.01)
        assert running.server.wait_idle(5)
        assert running.server.stats.snapshot()["aborted"] == 1
    finally:
        running.stop()


def test_reference_service_http() -> None:
    with ReferenceServices() as services:
        url = services.resolve("@reference/http")
        assert url.startswith("http://127.0.0.1:")
        assert _get(url + "/latency") == (200, b"pong")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_cli_server_serves_and_stops_cleanly(sig: signal.Signals) -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "agent")]))
    proc = subprocess.Popen(
        [sys.executable, "-m", "qos_agent.cli", "server", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "serving http://127.0.0.1:" in line, line + (
            proc.stderr.read() if proc.stderr else ""
        )
        url = line.split("serving ", 1)[1].split()[0].rstrip("/")
        assert _get(url + "/latency") == (200, b"pong")
        proc.send_signal(sig)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def test_cli_rejects_bad_port() -> None:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "agent")]))
    proc = subprocess.run(
        [sys.executable, "-m", "qos_agent.cli", "server", "--port", "70000"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=30,
    )
    assert proc.returncode == 2 and "out of range" in proc.stderr
