"""The reference HTTP server outlasts abusive clients on loopback.

* 40 slowloris connections from one address (127.0.0.2: Linux routes all of 127/8 to
  loopback) for 15 s do not lock out a client from another address (127.0.0.1) that asks
  once a second: the per-address share (half of the global cap) leaves it room, and
  the header deadline closes a trickling connection even though it is never idle;
* sizes written with non-ASCII digits ("²", "١٢", "１２") are a 400, never a handler
  traceback (the server runs with ``--verbose``, which prints handler tracebacks, and its
  stderr is captured).
"""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from qos_agent.refserver.limits import ServerLimits
from qos_agent.refserver.server import start_http_server
from tests.agent.conftest import cli_argv, cli_env

ATTACKER = "127.0.0.2"
SLOW_CONNECTIONS = 40
ATTACK_S = 15.0
HEADER_TIMEOUT_S = 4.0


def _attacker_address_usable() -> bool:
    try:
        with socket.socket() as sock:
            sock.bind((ATTACKER, 0))
    except OSError:
        return False
    return True


@pytest.fixture
def server_process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], int]]:
    argv = cli_argv(
        "server", "--bind", "127.0.0.1", "--port", "0", "--verbose",
        "--max-connections", "32", "--header-timeout", str(HEADER_TIMEOUT_S),
    )  # fmt: skip
    proc = subprocess.Popen(
        argv, env=cli_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
    assert match, (line, proc.stderr.read() if proc.poll() is not None else "")
    yield proc, int(match.group(1))
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=15)


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=15)
    assert proc.returncode == 0, stderr
    return stderr


def _request(port: int, raw: bytes, source: str = "127.0.0.1", timeout: float = 5.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout, (source, 0)) as sock:
        sock.sendall(raw)
        reply = b""
        while b"\r\n\r\n" not in reply:
            chunk = sock.recv(4096)
            if not chunk:
                break
            reply += chunk
        return reply


class Slowloris:
    """Keeps ``count`` connections from ``source`` open, each sending one header line a
    second and never finishing its head; reconnects whatever the server closes."""

    def __init__(self, port: int, source: str, count: int) -> None:
        self.port, self.source, self.count = port, source, count
        self.refused = 0  # answered 503 at once
        self.closed_after_s: list[float] = []  # accepted, then closed by the server
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _open(self) -> tuple[socket.socket, float] | None:
        sock = socket.socket()
        sock.bind((self.source, 0))
        sock.settimeout(2)
        try:
            sock.connect(("127.0.0.1", self.port))
            sock.sendall(b"GET /latency HTTP/1.1\r\nHost: x\r\n")
        except OSError:
            sock.close()
            return None
        sock.setblocking(False)
        return sock, time.monotonic()

    def _run(self) -> None:
        conns = [c for c in (self._open() for _ in range(self.count)) if c]
        while not self.stop.wait(1.0):
            alive = []
            for sock, opened in conns:
                if self._still_held(sock, opened):
                    alive.append((sock, opened))
                else:
                    sock.close()
            while len(alive) < self.count and not self.stop.is_set():
                fresh = self._open()
                if fresh is None:
                    break
                alive.append(fresh)
            conns = alive
        for sock, _ in conns:
            sock.close()

    def _still_held(self, sock: socket.socket, opened: float) -> bool:
        try:
            data = sock.recv(4096)
        except BlockingIOError:
            data = None  # nothing from the server: the connection is still held
        except OSError:
            data = b""
        if data is None:
            try:
                sock.send(b"X-Slow: 1\r\n")
                return True
            except OSError:
                data = b""
        if data.startswith(b"HTTP/1.1 503"):
            self.refused += 1
        else:
            self.closed_after_s.append(time.monotonic() - opened)
        return False


@pytest.mark.slow
@pytest.mark.skipif(not _attacker_address_usable(), reason=f"cannot bind {ATTACKER}")
def test_slow_clients_from_one_address_do_not_lock_out_another(server_process) -> None:
    proc, port = server_process
    attack = Slowloris(port, ATTACKER, SLOW_CONNECTIONS)
    attack.thread.start()
    time.sleep(1.0)  # the slow connections are in place
    served: list[tuple[bytes, float]] = []
    deadline = time.monotonic() + ATTACK_S
    while time.monotonic() < deadline:
        start = time.monotonic()
        reply = _request(port, b"GET /latency HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        served.append((reply.split(b"\r\n", 1)[0], time.monotonic() - start))
        time.sleep(max(0.0, 1.0 - (time.monotonic() - start)))
    attack.stop.set()
    attack.thread.join(10)
    stderr = _stop(proc)
    assert len(served) >= 14
    assert all(status == b"HTTP/1.1 200 OK" for status, _ in served), served
    assert max(seconds for _, seconds in served) < 2.0, served
    # 32 slots, 16 per address: the rest of the 40 were refused at once, and the accepted
    # ones were closed at the header deadline although they sent a line every second.
    assert attack.refused >= SLOW_CONNECTIONS - 16, attack.refused
    assert attack.closed_after_s, "no held connection was ever closed"
    assert all(HEADER_TIMEOUT_S - 0.5 < s < HEADER_TIMEOUT_S + 2.5 for s in attack.closed_after_s)
    assert "Traceback" not in stderr


# Request heads are decoded as ISO-8859-1 (so byte 0xB2 is "²") and queries as
# percent-encoded UTF-8; str.isdigit() is true for all of these, and int() even accepts
# the Arabic-Indic and fullwidth ones.
UNICODE_DIGITS = [
    b"GET /download/\xb2 HTTP/1.1\r\nHost: x\r\n\r\n",  # "²"
    b"GET /download?bytes=%C2%B2 HTTP/1.1\r\nHost: x\r\n\r\n",  # "²"
    b"GET /download?bytes=%D9%A1%D9%A2 HTTP/1.1\r\nHost: x\r\n\r\n",  # "١٢"
    b"GET /download?bytes=%EF%BC%91%EF%BC%92 HTTP/1.1\r\nHost: x\r\n\r\n",  # "１２"
    b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: \xb2\r\n\r\n",  # "²"
    b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: \xb9\xb2\r\n\r\n",  # "¹²"
    b"GET /latency HTTP/1.\xb2\r\nHost: x\r\n\r\n",  # version "1.²"
]


def test_unicode_digits_are_400_and_never_a_traceback(server_process) -> None:
    proc, port = server_process
    for raw in UNICODE_DIGITS:
        reply = _request(port, raw)
        status = reply.split(b"\r\n", 1)[0]
        # an unparseable version is answered the HTTP/0.9 way: no status line, the page says 400
        assert status.startswith(b"HTTP/1.1 400 ") or b"Error code: 400" in reply, (raw, reply)
    assert _request(port, b"GET /download/12 HTTP/1.1\r\nHost: x\r\n\r\n").startswith(
        b"HTTP/1.1 200"
    )
    stderr = _stop(proc)
    assert "Traceback" not in stderr and "Exception occurred" not in stderr, stderr
    assert stderr.count('"GET /download') >= 4  # every request was logged (verbose)


def test_header_deadline_closes_a_connection_that_is_never_idle() -> None:
    running = start_http_server(limits=ServerLimits(header_timeout_s=1.5, io_timeout_s=10))
    try:
        host, port = running.server.server_address[:2]
        with socket.create_connection((host, port), timeout=5) as sock:
            start = time.monotonic()
            sock.sendall(b"GET /latency HTTP/1.1\r\n")
            closed_after = None
            for _ in range(40):  # a header byte every 0.25 s: never idle for 10 s
                try:
                    sock.sendall(b"X")
                    sock.settimeout(0.25)
                    if sock.recv(1) == b"":
                        closed_after = time.monotonic() - start
                        break
                except TimeoutError:
                    continue
                except OSError:
                    closed_after = time.monotonic() - start
                    break
        assert closed_after is not None and 1.2 < closed_after < 3.5, closed_after
        assert running.server.wait_idle(5)
        assert running.server.stats.snapshot()["errors"] == 0
    finally:
        running.stop()


def test_per_source_share_is_below_the_global_cap() -> None:
    assert ServerLimits(max_connections=32).per_source == 16
    assert ServerLimits(max_connections=1).per_source == 1
    with pytest.raises(ValueError):
        ServerLimits(max_connections=4, max_connections_per_source=5)
