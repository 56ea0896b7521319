"""The threaded reference server, its statistics and start/stop helpers.

:class:`ReferenceHttpServer` is a ``ThreadingHTTPServer`` with connection caps: a
connection beyond ``max_connections``, or beyond the per-address share
(``max_connections_per_source``, below the global cap so that one slow or greedy address
cannot lock everyone else out), is answered ``503 Service Unavailable`` with
``Retry-After`` straight from the accept loop and closed, so an overloaded server degrades
into a clear refusal (which the collectors record) rather than into slow, misleading
measurements.  Handler threads are daemons and every socket operation has an idle
timeout, so a stalled client cannot pin a thread for longer than that.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from http.server import ThreadingHTTPServer
from typing import Any

from qos_agent.reference import RunningService
from qos_agent.refserver.handler import ReferenceHandler
from qos_agent.refserver.limits import ServerLimits
from qos_agent.refserver.payload import RandomPayload

_BUSY_REPLY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n"
    b"Retry-After: 1\r\nConnection: close\r\n\r\nserver busy\n"
)


@dataclass
class ServerStats:
    """Counters since start (payload bytes exclude HTTP heads); thread-safe."""

    requests: int = 0
    downloads: int = 0
    uploads: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    aborted: int = 0
    rejected_busy: int = 0
    rejected_source: int = 0  # refused: that address already held its share of connections
    errors: int = 0
    active_connections: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **deltas: int) -> None:
        with self._lock:
            for name, delta in deltas.items():
                setattr(self, name, getattr(self, name) + delta)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {k: v for k, v in vars(self).items() if not k.startswith("_")}


class ReferenceHttpServer(ThreadingHTTPServer):
    """HTTP/1.1 reference server with bounded concurrency, sizes and durations."""

    daemon_threads = True
    block_on_close = False
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        limits: ServerLimits | None = None,
        *,
        payload: RandomPayload | None = None,
        verbose: bool = False,
    ) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.limits = limits or ServerLimits()
        self.verbose = verbose
        self.stats = ServerStats()
        self.payload = payload or RandomPayload()
        self._slots = threading.BoundedSemaphore(self.limits.max_connections)
        self._per_source: dict[str, int] = {}
        self._per_source_lock = threading.Lock()
        super().__init__(address, ReferenceHandler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.stats.add(rejected_busy=1)
            self._refuse(request)
            return
        source = str(client_address[0])
        if not self._take_source(source):
            self._slots.release()
            self.stats.add(rejected_source=1)
            self._refuse(request)
            return
        self.stats.add(active_connections=1)
        try:
            super().process_request(request, client_address)
        except Exception:
            self._release(source)
            raise

    def _refuse(self, request: Any) -> None:
        """``503`` with ``Retry-After`` from the accept loop, then close (never blocks long)."""
        try:
            request.settimeout(0.5)
            request.sendall(_BUSY_REPLY)
            request.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        self.shutdown_request(request)

    def _take_source(self, source: str) -> bool:
        """Count one more connection from ``source`` unless it holds its share already."""
        with self._per_source_lock:
            held = self._per_source.get(source, 0)
            if held >= self.limits.per_source:
                return False
            self._per_source[source] = held + 1
            return True

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._release(str(client_address[0]))

    def _release(self, source: str) -> None:
        with self._per_source_lock:
            held = self._per_source.pop(source, 1) - 1
            if held > 0:
                self._per_source[source] = held
        self.stats.add(active_connections=-1)
        self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        self.stats.add(errors=1)
        if self.verbose:
            super().handle_error(request, client_address)

    def server_close(self) -> None:
        super().server_close()
        self.payload.close()

    def wait_idle(self, timeout_s: float = 5.0) -> bool:
        """Wait until no connection is being served (tests read stats after this)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.stats.snapshot()["active_connections"] == 0:
                return True
            time.sleep(0.01)
        return False


@dataclass
class RunningHttpServer:
    """A server serving in a background thread."""

    server: ReferenceHttpServer
    thread: threading.Thread
    url: str

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)
        self.server.server_close()


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def start_http_server(
    bind: str = "127.0.0.1",
    port: int = 0,
    limits: ServerLimits | None = None,
    *,
    verbose: bool = False,
) -> RunningHttpServer:
    """Start a reference server in a daemon thread (loopback and an ephemeral port by default)."""
    server = ReferenceHttpServer((bind, port), limits, verbose=verbose)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.2},
        name=f"qos-refserver-{server.port}",
        daemon=True,
    )
    thread.start()
    return RunningHttpServer(server=server, thread=thread, url=_url(bind, server.port))


def start_reference_service(bind: str = "127.0.0.1") -> RunningService:
    """Entry for :mod:`qos_agent.reference` (``@reference/http``).

    Its clients are the agent's own collectors, all from one address (a throughput job may
    open up to ``max_connections`` streams), so there is no per-address share below the cap.
    """
    limits = ServerLimits()
    limits = replace(limits, max_connections_per_source=limits.max_connections)
    running = start_http_server(bind, 0, limits)
    return RunningService(target=running.url, stop=running.stop)


def serve_until_signalled(server: ReferenceHttpServer, stop: threading.Event) -> None:
    """Serve in a thread until ``stop`` is set (by a signal handler), then shut down cleanly.

    ``shutdown()`` must not run in the thread that runs ``serve_forever`` (it would wait for
    itself), hence the worker thread.
    """
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.2},
        name="qos-refserver",
        daemon=True,
    )
    thread.start()
    try:
        while not stop.wait(0.5):
            if not thread.is_alive():
                print("qos-agent server: serving thread stopped unexpectedly", file=sys.stderr)
                break
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()
