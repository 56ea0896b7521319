"""speedtest-cli 2.1.3 imported without side effects and adapted to measure.

The adaptations: the config comes from a self-hosted mini server, every request goes
through an opener that counts bytes and notes failures (:mod:`.accounting`), and uploads
can keep ``threads`` requests in flight (``upload_continuous``).
"""

from __future__ import annotations

import io
import os
import sys
import threading
import time
import timeit
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

from qos_agent.collectors.speedtest.accounting import CountingResponse, TrackedConnection, Traffic
from qos_agent.collectors.speedtest.backoff import BLOCKING_CODES
from qos_agent.collectors.speedtest.config import parse_config_xml
from qos_agent.refserver.speedtest_compat import config_xml

_IMPORT_LOCK = threading.Lock()


def import_speedtest() -> Any:
    """Import speedtest-cli lazily, without letting it take over fds 1 and 2.

    At import time speedtest-cli wraps file descriptors 1 and 2 in ``FileIO(closefd=True)``
    objects that close the process's stdout and stderr when collected; with a stdout that
    has no ``fileno`` it falls back to plain ``sys.stdout``.
    """
    with _IMPORT_LOCK:
        if "speedtest" in sys.modules:
            return sys.modules["speedtest"]
        saved = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = io.StringIO()
        try:
            # speedtest-cli ships no type hints: the module, and every class of it that the
            # adapters below subclass, is Any to mypy.
            import speedtest
        finally:
            sys.stdout, sys.stderr = saved
        return speedtest


class ShutdownEvent(threading.Event):
    """speedtest-cli polls ``isSet()``, deprecated on threading.Event since Python 3.10."""

    def isSet(self) -> bool:
        return self.is_set()


class _RecordingOpener:
    """Wraps speedtest-cli's urllib opener: counts download bytes, notes HTTP errors."""

    def __init__(self, opener: Any, traffic: Traffic) -> None:
        self._opener = opener
        self._traffic = traffic

    def open(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        url = request if isinstance(request, str) else request.get_full_url()
        data = getattr(request, "data", None)
        is_upload = data is not None and hasattr(data, "total")
        if is_upload or "/random" in url:
            with self._traffic.lock:
                if self._traffic.first_data_ns is None:
                    self._traffic.first_data_ns = time.monotonic_ns()
                if is_upload:
                    self._traffic.upload_bodies.append(data)
        try:
            response = self._opener.open(request, *args, **kwargs)
        except urllib.error.HTTPError as exc:
            self._traffic.note_error(exc)
            raise
        except OSError as exc:
            if is_upload or "/random" in url:
                self._traffic.note_failure(exc)
            raise
        if "/random" in url:
            return CountingResponse(response, self._traffic)
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self._opener, name)


def _tracking_opener(module: Any, traffic: Traffic, timeout: float) -> Any:
    """speedtest-cli's opener (same handlers and User-Agent), with connections tracked.

    Upload bytes are counted as the server's TCP acknowledged them, not as handed to the
    kernel: with 8 threads the socket buffers hold megabytes, and the latter overstated a
    50 Mbit/s uplink in the lab.
    """

    class TrackingConnection(module.SpeedtestHTTPConnection):
        _qos_tracked: TrackedConnection | None = None

        def connect(self) -> None:
            super().connect()
            self._qos_tracked = traffic.track(self.sock)

        def getresponse(self) -> Any:
            response = super().getresponse()
            if self._qos_tracked is not None:
                self._qos_tracked.finish()
            return response

        def close(self) -> None:
            if self._qos_tracked is not None:
                self._qos_tracked.finish()
            super().close()

    class TrackingHandler(module.SpeedtestHTTPHandler):
        def http_open(self, req: Any) -> Any:
            build = module._build_connection(TrackingConnection, self.source_address, self.timeout)
            return self.do_open(build, req)

        http_request = urllib.request.AbstractHTTPHandler.do_request_

    opener = urllib.request.OpenerDirector()
    opener.addheaders = [("User-agent", module.build_user_agent())]
    for handler in (
        urllib.request.ProxyHandler(),
        TrackingHandler(timeout=timeout),
        module.SpeedtestHTTPSHandler(timeout=timeout),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPRedirectHandler(),
        urllib.request.HTTPErrorProcessor(),
    ):
        opener.add_handler(handler)
    return opener


def speedtest_class(module: Any) -> Any:
    """speedtest.Speedtest with a ``get_config`` that works against a self-hosted server."""

    class SelfHostedSpeedtest(module.Speedtest):
        def __init__(self, mini_base: str | None, traffic: Traffic, **kwargs: Any) -> None:
            self._mini_base = mini_base
            self._traffic = traffic
            self.config_source = "speedtest.net"
            super().__init__(**kwargs)
            opener = _tracking_opener(module, traffic, kwargs.get("timeout", 10))
            self._opener = _RecordingOpener(opener, traffic)

        def get_config(self) -> Any:
            if self._mini_base is None:
                try:
                    return super().get_config()
                except module.ConfigRetrievalError as exc:
                    if exc.args and isinstance(exc.args[0], urllib.error.HTTPError):
                        self._traffic.note_error(exc.args[0])
                    raise
            url = f"{self._mini_base}/speedtest/speedtest-config.php"
            try:
                response = self._opener.open(url)
                xml = response.read(1 << 20)
                response.close()
                config = parse_config_xml(xml)
                self.config_source = url
            except urllib.error.HTTPError as exc:
                if exc.code in BLOCKING_CODES:
                    self._traffic.note_error(exc)
                    raise
                config = parse_config_xml(config_xml(client_ip="", test_length_s=10))
                self.config_source = "built-in speedtest.net defaults"
            except (OSError, ValueError, ET.ParseError, KeyError):
                config = parse_config_xml(config_xml(client_ip="", test_length_s=10))
                self.config_source = "built-in speedtest.net defaults"
            config["client"].update(lat="0", lon="0")
            self.config.update(config)
            self.lat_lon = (0.0, 0.0)
            return self.config

        def upload_continuous(self, threads: int) -> float:
            """speedtest-cli's ``upload`` with ``threads`` requests always in flight."""
            return upload_continuous(module, self, threads)

        def download_continuous(self, threads: int) -> float:
            """speedtest-cli's ``download`` with ``threads`` requests always in flight."""
            return download_continuous(module, self, threads)

    return SelfHostedSpeedtest


def upload_continuous(module: Any, st: Any, threads: int) -> float:
    """speedtest-cli's ``upload`` with ``threads`` requests always in flight.

    The same requests as ``Speedtest.upload`` (sizes, order, URL, headers, bodies,
    test-length cut-off via ``HTTPUploaderData``, zero bytes for requests begun after
    the test length), counted and timed the same way; only the scheduling differs.
    speedtest-cli frees a slot only when the *oldest* running request has ended
    (FIFO join), so one slow request holds every slot whose request already ended
    — the package docstring says what that did in the lab.  Here a slot is freed as
    soon as its own request ends.
    """
    config = st.config
    length = config["length"]["upload"]
    sizes = [s for s in config["sizes"]["upload"] for _ in range(config["counts"]["upload"])]
    requests = []
    for size in sizes[: config["upload_max"]]:
        data = module.HTTPUploaderData(size, 0, length, shutdown_event=st._shutdown_event)
        data.pre_allocate()
        request = module.build_request(
            st.best["url"], data, secure=st._secure, headers={"Content-length": size}
        )
        requests.append((request, size))

    def uploader(i: int, start: float, slot: Callable[[], None]) -> Any:
        request, size = requests[i]
        worker = _releasing(module.HTTPUploader, slot)
        return worker(
            i, request, start, size, length, opener=st._opener, shutdown_event=st._shutdown_event
        )

    started, elapsed = _run_in_slots(threads, len(requests), uploader)
    st.results.bytes_sent = sum(u.result for u in started)
    st.results.upload = st.results.bytes_sent * 8.0 / elapsed
    return float(st.results.upload)


def download_continuous(module: Any, st: Any, threads: int) -> float:
    """speedtest-cli's ``download`` with ``threads`` requests always in flight.

    The same requests as ``Speedtest.download`` (image sizes, counts, order, cache-bust
    numbering, test-length cut-off in ``HTTPDownloader``), counted and timed the same way,
    including its side effect of setting 8 upload threads above 100 kbit/s; only the
    scheduling differs, as in :func:`upload_continuous`: speedtest-cli's producer starts a
    request only when its consumer has joined the *oldest* one (and both poll every
    millisecond), so one slow request holds every slot whose request already ended.
    """
    config = st.config
    base = os.path.dirname(st.best["url"])
    urls = [
        f"{base}/random{size}x{size}.jpg"
        for size in config["sizes"]["download"]
        for _ in range(config["counts"]["download"])
    ]
    requests = [module.build_request(url, bump=i, secure=st._secure) for i, url in enumerate(urls)]
    length = config["length"]["download"]

    def downloader(i: int, start: float, slot: Callable[[], None]) -> Any:
        worker = _releasing(module.HTTPDownloader, slot)
        return worker(
            i, requests[i], start, length, opener=st._opener, shutdown_event=st._shutdown_event
        )

    started, elapsed = _run_in_slots(threads, len(requests), downloader)
    st.results.bytes_received = sum(sum(d.result) for d in started)
    st.results.download = st.results.bytes_received * 8.0 / elapsed
    if st.results.download > 100000:
        config["threads"]["upload"] = 8
    return float(st.results.download)


def is_unreachable(module: Any, exc: BaseException) -> bool:
    unreachable = (
        module.SpeedtestMiniConnectFailure,
        module.ConfigRetrievalError,
        module.SpeedtestBestServerFailure,
        ConnectionRefusedError,
    )
    return isinstance(exc, unreachable)


def _releasing(worker_class: Any, release: Callable[[], None]) -> Any:
    """``worker_class`` (a speedtest-cli request thread) that calls ``release`` when its
    request ends, however it ends."""

    class Releasing(worker_class):
        def run(self) -> None:
            try:
                super().run()
            finally:
                release()

    return Releasing


def _run_in_slots(
    threads: int, count: int, make: Callable[[int, float, Callable[[], None]], Any]
) -> tuple[list[Any], float]:
    """Start request threads ``make(i, start, release)`` for ``i`` in ``range(count)``, each
    as soon as one of ``threads`` slots is free (its own ``release`` frees it); join them
    all.  Returns the threads and the seconds from the first start to the last join."""
    slots = threading.Semaphore(threads)
    started = []
    start = timeit.default_timer()
    for i in range(count):
        slots.acquire()
        worker = make(i, start, slots.release)
        worker.start()
        started.append(worker)
    for worker in started:
        worker.join()
    return started, timeit.default_timer() - start
