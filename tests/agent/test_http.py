"""``http`` collector against a real nginx on loopback, plus fault servers.

nginx runs in the foreground from a temporary prefix with its own config, on loopback
ports, with a self-signed certificate made by ``openssl`` for the TLS phase.  Ground
truth: the served file's exact size, nginx's own status codes, and Python fault servers
that hold the response for a known time or never answer.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from qos.records import Status
from qos_agent.collectors import get
from qos_agent.collectors.base import MeasureContext, run_collector
from qos_agent.collectors.http import split_url

BIG = 3 * 1024 * 1024 + 17


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _which(name: str) -> str | None:
    for candidate in (shutil.which(name), f"/usr/sbin/{name}", f"/usr/bin/{name}"):
        if candidate and Path(candidate).exists():
            return candidate
    return None


@dataclass(frozen=True)
class Nginx:
    http: str
    https: str
    ca_file: str


NGINX_CONF = """
daemon off;
master_process off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{http_port};
        listen 127.0.0.1:{https_port} ssl;
        ssl_certificate {tmp}/cert.pem;
        ssl_certificate_key {tmp}/key.pem;
        root {tmp}/www;
        location = /hello {{ return 200 "hello\\n"; }}
        location = /broken {{ return 503; }}
    }}
}}
"""


@pytest.fixture(scope="module")
def nginx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nginx]:
    binary, openssl = _which("nginx"), _which("openssl")
    if binary is None:
        pytest.skip("nginx not installed (Debian package nginx)")
    if openssl is None:
        pytest.skip("openssl not installed (needed for the test certificate)")
    tmp = tmp_path_factory.mktemp("nginx")
    (tmp / "www").mkdir()
    (tmp / "www" / "big.bin").write_bytes(bytes(range(256)) * (BIG // 256) + b"x" * (BIG % 256))
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-keyout",
            str(tmp / "key.pem"),
            "-out",
            str(tmp / "cert.pem"),
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    http_port, https_port = free_port(), free_port()
    (tmp / "nginx.conf").write_text(
        NGINX_CONF.format(tmp=tmp, http_port=http_port, https_port=https_port)
    )
    proc = subprocess.Popen(
        [binary, "-p", str(tmp), "-e", str(tmp / "error.log"), "-c", str(tmp / "nginx.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", http_port), timeout=0.2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log = (tmp / "error.log").read_text() if (tmp / "error.log").exists() else ""
                    pytest.skip(f"nginx did not start: {log.strip()[-300:]}")
                time.sleep(0.05)
        yield Nginx(
            f"http://127.0.0.1:{http_port}",
            f"https://127.0.0.1:{https_port}",
            str(tmp / "cert.pem"),
        )
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


def _run(target: str, **params: object):  # type: ignore[no-untyped-def]
    return run_collector(
        get("http"), target, {k: str(v) for k, v in params.items()}, MeasureContext(agent_id="test")
    )


def _phases_consistent(phases: dict[str, float | None]) -> None:
    parts = [phases[k] for k in ("dns", "connect", "tls", "ttfb", "download")]
    total = phases["total"]
    assert total is not None
    assert all(p is None or 0 <= p <= total for p in parts)
    assert sum(p for p in parts if p is not None) <= total


def test_plain_get_phases_status_and_exact_body(nginx: Nginx) -> None:
    m = _run(nginx.http + "/big.bin")
    assert m.status is Status.OK and m.error is None
    r = m.result
    assert r is not None and r.outcome == "200"
    assert r.details["body_bytes"] == BIG and r.details["body_truncated"] is False
    assert r.details["http_version"] == "1.1"
    assert r.phases_s["tls"] is None
    for name in ("dns", "connect", "ttfb", "download", "total"):
        assert r.phases_s[name] is not None and r.phases_s[name] >= 0  # type: ignore[operator]
    _phases_consistent(dict(r.phases_s))


def test_https_with_trusted_lab_ca(nginx: Nginx) -> None:
    m = _run(nginx.https + "/hello", ca_file=nginx.ca_file)
    assert m.status is Status.OK, m.error
    r = m.result
    assert r is not None and r.outcome == "200" and r.details["body_bytes"] == 6
    assert r.phases_s["tls"] is not None and r.phases_s["tls"] > 0
    assert r.details["tls_version"].startswith("TLS")
    _phases_consistent(dict(r.phases_s))


def test_https_untrusted_certificate_is_an_error(nginx: Nginx) -> None:
    m = _run(nginx.https + "/hello")
    assert m.status is Status.ERROR and "certificate" in (m.error or "").lower()
    assert m.result is not None and m.result.phases_s["connect"] is not None
    unverified = _run(nginx.https + "/hello", verify_tls="false")
    assert unverified.status is Status.OK and unverified.result.outcome == "200"  # type: ignore[union-attr]


@pytest.mark.parametrize(("path", "code"), [("/broken", "503"), ("/missing", "404")])
def test_http_errors_are_outcomes(nginx: Nginx, path: str, code: str) -> None:
    m = _run(nginx.http + path)
    assert m.status is Status.OK and m.result is not None and m.result.outcome == code


def test_max_body_truncates(nginx: Nginx) -> None:
    m = _run(nginx.http + "/big.bin", max_body="100KB")
    r = m.result
    assert m.status is Status.OK and r is not None
    assert r.details["body_bytes"] == 100_000 and r.details["body_truncated"] is True


class FaultServer:
    """TCP server on loopback that waits ``hold_s`` after the request, then answers (or not)."""

    def __init__(self, hold_s: float, answer: bool = True) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.2)
        self.port = self.server.getsockname()[1]
        self.hold_s, self.answer = hold_s, answer
        #: how long the last answer really waited: from the end of the request to the end
        #: of sendall (the thread's sleep runs late on a busy host)
        self.held_s: float | None = None
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                got_request = time.monotonic()
                if self.stop.wait(self.hold_s) or not self.answer:
                    self.stop.wait(10)
                    continue
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
                self.held_s = time.monotonic() - got_request

    def close(self) -> None:
        self.stop.set()
        self.thread.join(2)
        self.server.close()


def test_ttfb_contains_the_server_hold_time() -> None:
    """TTFB spans the server's real hold (request read → answer sent, on the same clock),
    so it is never shorter; it adds at most 0.1 s of client-side time to it.  The real
    hold, not the nominal 0.2 s, is the reference: the server thread's sleep itself runs
    late when the host is busy."""
    server = FaultServer(hold_s=0.2)
    try:
        m = _run(f"127.0.0.1:{server.port}/")
    finally:
        server.close()
    r = m.result
    assert m.status is Status.OK and r is not None and r.outcome == "200"
    ttfb, held = r.phases_s["ttfb"], server.held_s
    assert ttfb is not None and held is not None and held >= 0.2
    assert held <= ttfb < held + 0.1, (ttfb, held)
    assert r.phases_s["connect"] is not None and r.phases_s["connect"] < 0.05


def test_stalled_server_times_out_with_partial_phases() -> None:
    server = FaultServer(hold_s=0, answer=False)
    try:
        start = time.monotonic()
        m = _run(f"http://127.0.0.1:{server.port}/", timeout="500ms")
        elapsed = time.monotonic() - start
    finally:
        server.close()
    assert m.status is Status.TIMEOUT and "ttfb" in (m.error or "")
    r = m.result
    assert r is not None and r.phases_s["connect"] is not None and r.phases_s["ttfb"] is None
    assert 0.45 <= elapsed < 2.0


def test_closed_port_is_unreachable() -> None:
    m = _run(f"http://127.0.0.1:{free_port()}/")
    assert m.status is Status.UNREACHABLE and m.result is not None
    assert m.result.phases_s["dns"] is not None and m.result.phases_s["connect"] is None


@pytest.mark.parametrize("target", ["ftp://127.0.0.1/", "http://", "http://127.0.0.1:99999/"])
def test_bad_urls_are_error_records(target: str) -> None:
    assert _run(target).status is Status.ERROR


def test_split_url() -> None:
    assert split_url("127.0.0.1:8080/a?b=1") == (
        "http",
        "127.0.0.1",
        8080,
        "/a?b=1",
        "127.0.0.1:8080",
    )
    assert split_url("https://[::1]/") == ("https", "::1", 443, "/", "[::1]")
