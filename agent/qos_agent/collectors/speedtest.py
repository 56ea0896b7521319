"""speedtest collector: speedtest-cli 2.1.3 as a library (issue 5, item 4; STANDARDS.md §12.7).

The target is a self-hosted speedtest "mini" server (``http://host:port/``, e.g. the
reference server, ``@reference/http``) or ``auto`` for speedtest.net's public servers, of
which the one with the lowest HTTP latency among the five nearest is chosen (speedtest-cli's
``get_best_server``).  speedtest-cli's constructor always downloads speedtest.net's config,
so it fails offline; :func:`_speedtest_class` builds a subclass whose ``get_config`` reads the
config from the mini server (``/speedtest/speedtest-config.php``), falling back to
speedtest.net's published defaults when a mini server has none (§12.7).

Traffic is speedtest-cli's: 8 threads (2 × the config's ``threadcount``) download the
``random*.jpg`` files, 8 threads upload (speedtest-cli's own count after a download),
each request on a new connection, for the config's test length.  One change, for upload
only (``upload_scheduling``, default ``continuous``): a new request starts as soon as any
running one ends, instead of speedtest-cli's FIFO join, which starts one only after the
*oldest* ended.  Lab evidence (50 Mbit/s tbf, 50 ms queue, host default congestion control
BBR, kernel 6.18): each burst of 8 new connections in BBR's startup overflowed the queue
(7-15 % of packets dropped vs ~1 % for iperf3's 4 long flows); some connections left
startup with a bandwidth estimate of 1-5 Mbit/s (and a bogus min RTT of 23-50 µs, which
all but disables BBR's probing) and stayed *pacing*-limited for seconds — no RTO backoff,
no loss, window open, data waiting in the send buffer, the server reading at once
(Recv-Q 0).  With the FIFO join the other slots then sat empty (1 request in flight,
0.8-3 Mbit/s on the link for up to 2.5 s) and goodput read 0.57-0.92 of iperf3's in 6 of
22 runs; with CUBIC on the same sockets (6 of 6 runs) or with continuous scheduling (9 of
9) every run was within 1.2 %.  speedtest-cli's ``threads`` means "this many requests in
flight" (its ``in_flight`` counter); continuous scheduling keeps exactly that, with the
same requests (sizes, order, bodies, test-length cut-off) and the same counting; ``fifo``
reproduces speedtest-cli exactly.  Its own figure — all
bytes over the time until every thread stopped, slow start and shutdown tail included —
is kept as ``details["speedtest_cli_bps"]``.  ``goodput_bps`` is ours, measured as for
``http_throughput`` (BEREC practice, STANDARDS.md §8.1): aggregate bytes are sampled every
``interval`` (intervals with ``stream=-1``) and the goodput is the bytes between the end of
``warmup`` and the end of the test length over that time (:func:`measurement_window`).
Download counts body bytes read; upload counts bytes the server's TCP acknowledged,
cumulatively or by SACK (``TCP_INFO``; :meth:`_Tracked.current`), not bytes handed to
``http.client``, which include full socket buffers.
Data requests that time out, reset or end short — speedtest-cli silently counts them as
zero bytes — make the record ``timeout``/``error``; the partial figures stay in ``details``.

Its "ping" is half the mean time of three HTTP GETs of ``latency.txt`` including TCP
connect — **not** an RTT (§12.7) — so it is stored as
``details["speedtest_latency_figure_s"]`` and never as an RTT result.

Public servers block frequent clients: runs against one server are spaced by at least
``min_interval`` (skipped records say so), and an HTTP 403 or 429 starts an exponential
backoff (honouring ``Retry-After``), both persisted in a small JSON state file.
"""

from __future__ import annotations

import http.client
import io
import itertools
import json
import math
import os
import sys
import threading
import time
import timeit
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from qos.records import Measurement, Status, ThroughputInterval, ThroughputResult
from qos_agent.collectors.base import Collector, MeasureContext, ParamSpec
from qos_agent.net import tcpinfo
from qos_agent.refserver.speedtest_compat import config_xml

_ONLINE_TARGETS = {"auto", "speedtest.net"}
_BLOCKING_CODES = {403, 429}
_IMPORT_LOCK = threading.Lock()
LATENCY_NOTE = (
    "speedtest-cli 'ping': half the mean time of 3 HTTP GETs of latency.txt including TCP "
    "connect; not a round-trip time (STANDARDS.md §12.7)"
)


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
            import speedtest  # type: ignore[import-untyped]
        finally:
            sys.stdout, sys.stderr = saved
        return speedtest


def parse_config_xml(xml: bytes) -> dict[str, Any]:
    """A speedtest.net config document → speedtest-cli's ``config`` dict (its get_config logic)."""
    root = ET.fromstring(xml)
    elements = {tag: root.find(tag) for tag in ("server-config", "download", "upload", "client")}
    missing = [tag for tag, el in elements.items() if el is None]
    if missing:
        raise ValueError(f"speedtest config lacks <{'>, <'.join(missing)}>")
    server_config, download, upload, client = (el.attrib for el in elements.values())  # type: ignore[union-attr]
    ratio = int(upload["ratio"])
    if not 1 <= ratio <= 7:
        raise ValueError(f"upload ratio {ratio} outside 1..7")
    up_sizes = [32768, 65536, 131072, 262144, 524288, 1048576, 7340032][ratio - 1 :]
    upload_count = math.ceil(int(upload["maxchunkcount"]) / len(up_sizes))
    return {
        "client": dict(client),
        "ignore_servers": [int(i) for i in server_config.get("ignoreids", "").split(",") if i],
        "sizes": {
            "upload": up_sizes,
            "download": [350, 500, 750, 1000, 1500, 2000, 2500, 3000, 3500, 4000],
        },
        "counts": {"upload": upload_count, "download": int(download["threadsperurl"])},
        "threads": {
            "upload": int(upload["threads"]),
            "download": int(server_config["threadcount"]) * 2,
        },
        "length": {"upload": int(upload["testlength"]), "download": int(download["testlength"])},
        "upload_max": upload_count * len(up_sizes),
    }


def mini_base_url(target: str) -> str:
    """``http://h:p/``, ``http://h:p/speedtest/`` or ``…/upload.php`` → the mini server root."""
    parts = urlsplit(target.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"target {target!r}: expected http://host[:port]/ or 'auto'")
    path = parts.path
    if path.endswith(".php"):
        path = path.rsplit("/", 1)[0]
    path = path.rstrip("/")
    if path.endswith("/speedtest"):
        path = path[: -len("/speedtest")]
    return f"{parts.scheme}://{parts.netloc}{path}"


class _ShutdownEvent(threading.Event):
    """speedtest-cli polls ``isSet()``, deprecated on threading.Event since Python 3.10."""

    def isSet(self) -> bool:
        return self.is_set()


class _Tracked:
    """One HTTP connection's acknowledged bytes: live from TCP_INFO, frozen when it ends."""

    def __init__(self, sock: Any) -> None:
        self.sock = sock
        self.last = 0
        self.final: int | None = None

    def current(self) -> int:
        """Bytes acknowledged so far: cumulatively, plus (live) the selectively acked ones.

        At a 50 Mbit/s bottleneck speedtest-cli's new connections lose 7-15 % of their
        packets, so at any moment several of them hold out-of-order data the server has
        SACKed (RFC 2018) but not yet acknowledged cumulatively; counted only when the hole
        is filled, those bytes moved across the edges of the measured window and made a
        6 s goodput read up to 1.5 % above the link's TCP payload capacity in the lab
        (within 0.05 % of iperf3 in 7 of 7 runs with them).
        SACKed segments count as full segments except one (the last of a body may be
        shorter), so this stays a lower bound of what the server received.
        """
        if self.final is not None:
            return self.final
        info = tcpinfo.read(self.sock)
        if info is not None:
            self.last = info.payload_acked() + info.sacked_bytes()
        return self.last

    def finish(self) -> None:
        """Called once the server replied (all acked) or before the socket closes."""
        if self.final is None:
            self.final = self.current()


class _Traffic:
    """Counts bytes speedtest-cli moves and the HTTP errors it would otherwise swallow."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.downloaded = 0
        self.upload_bodies: list[Any] = []
        self.http_errors: dict[int, int] = {}
        self.retry_after_s: float | None = None
        self.first_data_ns: int | None = None  # first download/upload request (≈ its start)
        self.connections: list[_Tracked] = []
        self.timeouts = 0  # data requests that timed out (speedtest-cli ignores them)
        self.failures = 0  # data requests that failed otherwise (reset, refused, ...)
        self.examples: dict[str, str] = {}  # "timeouts"/"failures" → last such error

    def uploaded(self) -> int:
        """Body bytes handed to http.client (speedtest-cli's own upload count)."""
        with self.lock:
            return sum(sum(body.total) for body in self.upload_bodies)

    def track(self, sock: Any) -> _Tracked:
        tracked = _Tracked(sock)
        with self.lock:
            self.connections.append(tracked)
        return tracked

    def acked(self) -> int:
        """Transport payload the servers acknowledged on every connection (TCP_INFO)."""
        with self.lock:
            connections = list(self.connections)
        return sum(c.current() for c in connections)

    def note_failure(self, exc: Exception) -> None:
        """A data request that timed out (server stalled) or failed (reset, refused)."""
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        kind = "timeouts" if isinstance(reason, TimeoutError) else "failures"
        with self.lock:
            setattr(self, kind, getattr(self, kind) + 1)
            self.examples[kind] = f"{type(reason).__name__}: {reason}"

    def note_error(self, exc: urllib.error.HTTPError) -> None:
        with self.lock:
            self.http_errors[exc.code] = self.http_errors.get(exc.code, 0) + 1
            retry = exc.headers.get("Retry-After") if exc.headers else None
            if retry and retry.strip().isdigit():
                self.retry_after_s = float(retry)


class _CountingResponse:
    def __init__(self, response: Any, traffic: _Traffic) -> None:
        self._response = response
        self._traffic = traffic

    def read(self, *args: Any) -> bytes:
        try:
            data: bytes = self._response.read(*args)
        except (OSError, http.client.HTTPException) as exc:  # speedtest-cli swallows these
            self._traffic.note_failure(exc)
            raise
        with self._traffic.lock:
            self._traffic.downloaded += len(data)
        missing = getattr(self._response, "length", None)
        if not data and missing:  # http.client hides a body cut short as a plain EOF
            self._traffic.note_failure(
                ConnectionError(f"connection closed with {missing} body bytes missing")
            )
        return data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._response, name)


class _RecordingOpener:
    """Wraps speedtest-cli's urllib opener: counts download bytes, notes HTTP errors."""

    def __init__(self, opener: Any, traffic: _Traffic) -> None:
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
            return _CountingResponse(response, self._traffic)
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self._opener, name)


def _tracking_opener(module: Any, traffic: _Traffic, timeout: float) -> Any:
    """speedtest-cli's opener (same handlers and User-Agent), with connections tracked.

    Upload bytes are counted as the server's TCP acknowledged them, not as handed to the
    kernel: with 8 threads the socket buffers hold megabytes, and the latter overstated a
    50 Mbit/s uplink in the lab.
    """

    class TrackingConnection(module.SpeedtestHTTPConnection):  # type: ignore[misc,name-defined]
        _qos_tracked: _Tracked | None = None

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

    class TrackingHandler(module.SpeedtestHTTPHandler):  # type: ignore[misc,name-defined]
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


def _speedtest_class(module: Any) -> Any:
    """speedtest.Speedtest with a ``get_config`` that works against a self-hosted server."""

    class SelfHostedSpeedtest(module.Speedtest):  # type: ignore[misc,name-defined]
        def __init__(self, mini_base: str | None, traffic: _Traffic, **kwargs: Any) -> None:
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
                if exc.code in _BLOCKING_CODES:
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
            """speedtest-cli's ``upload`` with ``threads`` requests always in flight.

            The same requests as ``Speedtest.upload`` (sizes, order, URL, headers, bodies,
            test-length cut-off via ``HTTPUploaderData``, zero bytes for requests begun after
            the test length), counted and timed the same way; only the scheduling differs.
            speedtest-cli frees a slot only when the *oldest* running request has ended
            (FIFO join), so one slow request holds every slot whose request already ended
            — the module docstring says what that did in the lab.  Here a slot is freed as
            soon as its own request ends.
            """
            config = self.config
            length = config["length"]["upload"]
            sizes = [
                s for s in config["sizes"]["upload"] for _ in range(config["counts"]["upload"])
            ]
            requests = []
            for size in sizes[: config["upload_max"]]:
                data = module.HTTPUploaderData(size, 0, length, shutdown_event=self._shutdown_event)
                data.pre_allocate()
                request = module.build_request(
                    self.best["url"], data, secure=self._secure, headers={"Content-length": size}
                )
                requests.append((request, size))
            slots = threading.Semaphore(threads)

            class Uploader(module.HTTPUploader):  # type: ignore[misc,name-defined]
                def run(self) -> None:
                    try:
                        super().run()
                    finally:
                        slots.release()

            started = []
            start = timeit.default_timer()
            for i, (request, size) in enumerate(requests):
                slots.acquire()
                uploader = Uploader(
                    i,
                    request,
                    start,
                    size,
                    length,
                    opener=self._opener,
                    shutdown_event=self._shutdown_event,
                )
                uploader.start()
                started.append(uploader)
            for uploader in started:
                uploader.join()
            stop = timeit.default_timer()
            self.results.bytes_sent = sum(u.result for u in started)
            self.results.upload = self.results.bytes_sent * 8.0 / (stop - start)
            return float(self.results.upload)

    return SelfHostedSpeedtest


@dataclass
class _ServerState:
    last_run: float | None = None  # POSIX seconds
    blocked_until: float | None = None
    consecutive_blocks: int = 0


class RunState:
    """Per-server run history in a small JSON file (min interval and backoff survive restarts)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.servers: dict[str, _ServerState] = {}
        try:
            raw = json.loads(path.read_text())
            for key, value in raw.get("servers", {}).items():
                self.servers[key] = _ServerState(**value)
        except FileNotFoundError:
            pass
        except (OSError, ValueError, TypeError, AttributeError):
            self.servers = {}  # a corrupt file must not block measurements forever

    def get(self, key: str) -> _ServerState:
        return self.servers.setdefault(key, _ServerState())

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        body = {"schema_version": 1, "servers": {k: vars(v) for k, v in self.servers.items()}}
        tmp.write_text(json.dumps(body, indent=1, sort_keys=True))
        os.replace(tmp, self.path)


def default_state_path() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(Path.home(), ".local", "state")
    return Path(base) / "qos-toolkit" / "speedtest-state.json"


class SpeedtestCollector(Collector):
    """speedtest-cli against a self-hosted mini server or (``auto``) speedtest.net."""

    name = "speedtest"
    description = "speedtest-cli download/upload against a self-hosted mini server or speedtest.net"
    heavy = True
    param_specs = (
        ParamSpec(
            "direction", "str", "download", "download or upload", choices=("download", "upload")
        ),
        ParamSpec(
            "threads",
            "int",
            0,
            "parallel requests (0: as the server config says)",
            minimum=0,
            maximum=32,
        ),
        ParamSpec(
            "upload_scheduling",
            "str",
            "continuous",
            "continuous: a new upload request as soon as any ends; fifo: speedtest-cli's own "
            "(a new request only after the oldest ended)",
            choices=("continuous", "fifo"),
        ),
        ParamSpec(
            "timeout", "duration", 10.0, "socket timeout of each request", minimum=0.5, maximum=60
        ),
        ParamSpec(
            "warmup",
            "duration",
            2.0,
            "initial period excluded from the reported goodput (TCP slow start)",
            minimum=0,
            maximum=30,
        ),
        ParamSpec(
            "interval",
            "duration",
            0.1,
            "sampling interval of the stored samples",
            minimum=0.01,
            maximum=10,
        ),
        ParamSpec(
            "min_interval",
            "duration",
            3600.0,
            "least time between runs against one server",
            minimum=0,
            maximum=7 * 86400,
        ),
        ParamSpec(
            "backoff",
            "duration",
            3600.0,
            "first wait after HTTP 403/429 (doubles each time)",
            minimum=0,
            maximum=7 * 86400,
        ),
        ParamSpec(
            "backoff_max", "duration", 86400.0, "longest backoff", minimum=0, maximum=30 * 86400
        ),
        ParamSpec("state_file", "str", "", "run-history file (default: XDG state dir)"),
    )

    def check(self) -> list[str]:
        try:
            import_speedtest()
        except ImportError:
            return ["speedtest-cli is not installed (pip install 'qos-toolkit[agent]')"]
        return []

    def measure(
        self, target: str, params: Mapping[str, Any], context: MeasureContext
    ) -> Measurement:
        attempt = self.begin(target, params, context)

        def finish(
            status: Status, error: str | None, result: ThroughputResult | None = None
        ) -> Measurement:
            return attempt.finish(status=status, result=result, error=error)

        online = target.strip().lower() in _ONLINE_TARGETS
        try:
            mini = None if online else mini_base_url(target)
        except ValueError as exc:
            return finish(Status.ERROR, str(exc))
        key = "speedtest.net" if online else mini or target
        state = RunState(
            Path(params["state_file"]) if params["state_file"] else default_state_path()
        )
        server = state.get(key)
        now = attempt.started_at.timestamp()
        if server.blocked_until is not None and now < server.blocked_until:
            until = _iso(server.blocked_until)
            return finish(
                Status.SKIPPED,
                f"backing off: {key} refused us (HTTP 403/429); next try after {until}",
            )
        if server.last_run is not None and now - server.last_run < params["min_interval"]:
            until = _iso(server.last_run + params["min_interval"])
            return finish(
                Status.SKIPPED,
                f"min_interval: last run against {key} was too recent; next run after {until}",
            )
        server.last_run = now
        state.save()

        outcome = _execute(mini, params, context)
        blocked = {c for c in outcome.traffic.http_errors if c in _BLOCKING_CODES}
        if blocked:
            server.consecutive_blocks += 1
            wait = min(
                params["backoff_max"], params["backoff"] * 2 ** (server.consecutive_blocks - 1)
            )
            if outcome.traffic.retry_after_s is not None:
                wait = max(wait, min(outcome.traffic.retry_after_s, params["backoff_max"]))
            server.blocked_until = now + wait
            codes = ", ".join(str(c) for c in sorted(blocked))
            outcome.status, outcome.error = (
                Status.ERROR,
                f"server refused requests (HTTP {codes}); backing off until {_iso(now + wait)}",
            )
            outcome.rate_bps = None
        else:
            server.consecutive_blocks = 0
            server.blocked_until = None
        state.save()
        return finish(outcome.status, outcome.error, outcome.result(params["direction"]))


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts).astimezone().isoformat(timespec="seconds")


@dataclass
class _Outcome:
    traffic: _Traffic
    status: Status = Status.OK
    error: str | None = None
    rate_bps: float | None = None
    bytes_total: int = 0
    elapsed_s: float = 0.0
    threads: int = 0
    intervals: tuple[ThroughputInterval, ...] = ()
    details: dict[str, Any] | None = None

    def result(self, direction: str) -> ThroughputResult:
        details = dict(self.details or {})
        if self.traffic.http_errors:
            details["http_errors"] = {
                str(k): v for k, v in sorted(self.traffic.http_errors.items())
            }
        if self.status is not Status.OK and self.rate_bps is not None:
            details["partial_goodput_bps"] = self.rate_bps
        return ThroughputResult(
            direction=direction,
            streams=self.threads,
            duration_s=self.elapsed_s,
            warmup_s=0.0,
            bytes_total=self.bytes_total,
            goodput_bps=self.rate_bps if self.status is Status.OK else None,
            intervals=self.intervals,
            details=details,
        )


def _execute(mini: str | None, params: Mapping[str, Any], context: MeasureContext) -> _Outcome:
    """Run speedtest-cli in a worker thread, sampling its byte counters; bounded in time."""
    module = import_speedtest()
    traffic = _Traffic()
    outcome = _Outcome(traffic=traffic, details={})
    shutdown = _ShutdownEvent()
    box: dict[str, Any] = {}
    upload = params["direction"] == "upload"

    counter = traffic.acked if upload else (lambda: traffic.downloaded)

    def sample() -> tuple[int, int]:
        # reading every connection's TCP_INFO takes a while when 8 upload threads contend
        # for the GIL: stamp the reading with the middle of that time, not its start
        before = time.monotonic_ns()
        count = counter()
        return (before + time.monotonic_ns()) // 2, count

    def run() -> None:
        try:
            cls = _speedtest_class(module)
            st = cls(mini, traffic, timeout=params["timeout"], shutdown_event=shutdown)
            box["st"] = st
            if mini is not None:
                st.get_best_server(st.set_mini_server(mini))
            else:
                st.get_servers()
                st.get_best_server()
            threads = params["threads"] or default_threads(st.config, upload=upload)
            box["threads"] = threads
            box["length"] = st.config["length"]["upload" if upload else "download"]
            box["t0"], box["c0"] = sample()
            if not upload:
                box["rate"] = st.download(threads=threads)
            elif params["upload_scheduling"] == "continuous":
                box["rate"] = st.upload_continuous(threads)
            else:
                box["rate"] = st.upload(threads=threads)
        except Exception as exc:  # speedtest-cli raises many unrelated types
            box["error"] = exc

    worker = threading.Thread(target=run, name="qos-speedtest", daemon=True)
    worker.start()
    interval_ns = int(params["interval"] * 1e9)
    samples: list[tuple[int, int]] = []
    next_tick: int | None = None
    # setup (config, server choice) needs a few requests; the test itself lasts its test
    # length plus at most one socket timeout for the requests still in flight
    deadline_ns = time.monotonic_ns() + int(6 * params["timeout"] * 1e9)
    while worker.is_alive():
        if next_tick is None and "t0" in box:
            samples.append((box["t0"], box["c0"]))
            next_tick = box["t0"] + interval_ns
            deadline_ns = box["t0"] + int((box["length"] + params["timeout"] + 2) * 1e9)
        now = time.monotonic_ns()
        if context.stop.is_set() or now > deadline_ns:
            shutdown.set()
            worker.join(timeout=1.0)
            outcome.status = Status.ERROR if context.stop.is_set() else Status.TIMEOUT
            outcome.error = (
                "stopped by agent shutdown"
                if context.stop.is_set()
                else "speedtest did not finish before its deadline"
            )
            break
        wait_ns = min(next_tick - now if next_tick else 50_000_000, deadline_ns - now)
        worker.join(timeout=max(0.0, wait_ns / 1e9))
        now = time.monotonic_ns()
        if next_tick is not None and now >= next_tick:
            samples.append(sample())
            while next_tick <= now:
                next_tick += interval_ns
    if samples:
        samples.append(sample())
    st = box.get("st")
    t0 = box.get("t0")
    outcome.threads = int(box.get("threads", 0))
    window = None
    if t0 is not None and traffic.first_data_ns is not None:
        window = measurement_window(
            samples,
            start_ns=traffic.first_data_ns,
            warmup_ns=int(params["warmup"] * 1e9),
            length_ns=int(box["length"] * 1e9),
        )
    if t0 is not None:
        warm_end = window[0][0] if window else t0
        outcome.intervals = tuple(
            ThroughputInterval(
                stream=-1,
                start_offset_s=(a - t0) / 1e9,
                duration_s=(b - a) / 1e9,
                bytes=cb - ca,
                warmup=b <= warm_end,
            )
            for (a, ca), (b, cb) in itertools.pairwise(samples)
            if b > a
        )
    if st is not None:
        results = st.results
        outcome.bytes_total = int(results.bytes_sent if upload else results.bytes_received)
        outcome.details = {
            "config_source": st.config_source,
            "server_url": (
                st.servers[0]["url"]
                if isinstance(st.servers, list) and st.servers
                else (results.server or {}).get("url")
            ),
            "server_sponsor": (results.server or {}).get("sponsor"),
            "speedtest_latency_figure_s": results.ping / 1000 if results.ping else None,
            "latency_note": LATENCY_NOTE,
            "test_length_s": box.get("length"),
            "counting": "bytes acknowledged by the server's TCP, cumulatively or by SACK (upload)"
            if upload
            else "body bytes read (download)",
        }
    if "error" in box and outcome.status is Status.OK:
        exc = box["error"]
        outcome.status = Status.UNREACHABLE if _is_unreachable(module, exc) else Status.ERROR
        outcome.error = f"speedtest failed: {type(exc).__name__}: {exc}"
    if (traffic.timeouts or traffic.failures) and outcome.status is Status.OK:
        # speedtest-cli counts such requests as zero bytes and reports a low figure as if
        # the line were slow; a stalled or failing server is a failed measurement instead
        kind = "timeouts" if traffic.timeouts > traffic.failures else "failures"
        outcome.status = Status.TIMEOUT if kind == "timeouts" else Status.ERROR
        outcome.error = (
            f"server stalled or failed: {traffic.timeouts} data requests timed out, "
            f"{traffic.failures} failed (e.g. {traffic.examples[kind]})"
        )
    rate = box.get("rate")
    if rate is not None and outcome.bytes_total > 0 and outcome.details is not None:
        outcome.details["speedtest_cli_bps"] = float(rate)
        outcome.details["speedtest_cli_elapsed_s"] = outcome.bytes_total * 8 / rate
    if window is not None and rate is not None and outcome.bytes_total > 0:
        (ta, ca), (tb, cb), note = window
        outcome.rate_bps = (cb - ca) * 8 / ((tb - ta) / 1e9)
        outcome.elapsed_s = (tb - ta) / 1e9
        assert outcome.details is not None and t0 is not None
        outcome.details["measured_window_s"] = [(ta - t0) / 1e9, (tb - t0) / 1e9]
        outcome.details["measured_bytes"] = cb - ca
        if note:
            outcome.details["window_note"] = note
    elif outcome.status is Status.OK:
        outcome.status = Status.ERROR
        outcome.error = "speedtest moved no data (server refused or closed every request)"
    return outcome


def default_threads(config: Mapping[str, Any], *, upload: bool) -> int:
    """speedtest-cli's thread counts as in a normal run (download first, then upload).

    Download: 2 × the config's ``threadcount``.  Upload: the config says 2, but speedtest-cli
    raises it to 8 after any download faster than 100 kbit/s (``Speedtest.download``); a run
    measuring upload alone would otherwise use 2 threads and, with a new TCP connection per
    request, under-read a congested uplink (a SYN lost at the full bottleneck queue idles a
    thread for the 1 s initial RTO — seen in the lab).
    """
    if upload:
        return max(int(config["threads"]["upload"]), 8)
    return int(config["threads"]["download"])


def measurement_window(
    samples: list[tuple[int, int]], *, start_ns: int, warmup_ns: int, length_ns: int
) -> tuple[tuple[int, int], tuple[int, int], str | None] | None:
    """The (time, bytes) samples bounding the measured period, and a note if it was shortened.

    speedtest-cli's own figure divides all bytes by the time from its start until every
    thread has stopped, so it includes TCP ramp-up and a shutdown tail in which threads stop
    reading (in the lab at 50 Mbit/s it read 4-13 % below iperf3).  As for http_throughput
    (BEREC practice, STANDARDS.md §8.1), the reported goodput uses the bytes sampled between
    the end of the warm-up and the end of the test length — or the end of the data, when
    speedtest-cli ran out of files earlier.  If the data ended within the warm-up, the
    warm-up cannot be excluded and the note says so.
    """
    if len(samples) < 2:
        return None
    final = samples[-1][1]
    data_end = next(t for t, c in samples if c == final)
    end_limit = min(start_ns + length_ns, data_end)
    note = None
    first = next((p for p in samples if p[0] >= start_ns + warmup_ns), None)
    last = next((p for p in reversed(samples) if p[0] <= end_limit), None)
    if first is None or last is None or last[0] <= first[0]:
        first = samples[0]
        last = next(p for p in samples if p[0] >= data_end)
        note = "the transfer ended within the warm-up: warm-up not excluded"
    if last[0] <= first[0] or last[1] <= first[1]:
        return None
    return first, last, note


def _is_unreachable(module: Any, exc: BaseException) -> bool:
    unreachable = (
        module.SpeedtestMiniConnectFailure,
        module.ConfigRetrievalError,
        module.SpeedtestBestServerFailure,
        ConnectionRefusedError,
    )
    return isinstance(exc, unreachable)
