"""The speedtest collector: parameters, politeness checks, one run of speedtest-cli, the record."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qos.records import Measurement, Status, ThroughputInterval, ThroughputResult
from qos_agent.collectors.base import Collector, MeasureContext, ParamSpec
from qos_agent.collectors.shared_params import DIRECTION, SAMPLE_INTERVAL
from qos_agent.collectors.speedtest.accounting import Traffic, measurement_window
from qos_agent.collectors.speedtest.backoff import (
    RunState,
    default_state_path,
    note_refusals,
    skip_reason,
)
from qos_agent.collectors.speedtest.config import default_threads, mini_base_url
from qos_agent.collectors.speedtest.library import (
    ShutdownEvent,
    import_speedtest,
    is_unreachable,
    speedtest_class,
)

_ONLINE_TARGETS = {"auto", "speedtest.net"}
LATENCY_NOTE = (
    "speedtest-cli 'ping': half the mean time of 3 HTTP GETs of latency.txt including TCP "
    "connect; not a round-trip time (docs/methods.md §12.7)"
)


class SpeedtestCollector(Collector):
    """speedtest-cli against a self-hosted mini server or (``auto``) speedtest.net."""

    name = "speedtest"
    description = "speedtest-cli download/upload against a self-hosted mini server or speedtest.net"
    heavy = True
    param_specs = (
        DIRECTION,
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
            "download_scheduling",
            "str",
            "continuous",
            "continuous: a new download request as soon as any ends; fifo: speedtest-cli's own "
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
        SAMPLE_INTERVAL,
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
        return self.requires("speedtest", "speedtest-cli")

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
        skip = skip_reason(server, key, now, params["min_interval"])
        if skip is not None:
            return finish(Status.SKIPPED, skip)
        server.last_run = now
        state.save()

        outcome = _execute(mini, params, context)
        refusal = note_refusals(
            server,
            now,
            outcome.traffic.http_errors,
            outcome.traffic.retry_after_s,
            first_s=params["backoff"],
            longest_s=params["backoff_max"],
        )
        if refusal is not None:
            outcome.status, outcome.error = Status.ERROR, refusal
            outcome.rate_bps = None
        state.save()
        return finish(outcome.status, outcome.error, outcome.result(params["direction"]))


@dataclass
class _Outcome:
    traffic: Traffic
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


#: what a sampler returns: (monotonic time ns, bytes counted so far)
Sample = tuple[int, int]


def _execute(mini: str | None, params: Mapping[str, Any], context: MeasureContext) -> _Outcome:
    """Run speedtest-cli in a worker thread, sampling its byte counters; bounded in time."""
    module = import_speedtest()
    traffic = Traffic()
    outcome = _Outcome(traffic=traffic, details={})
    shutdown = ShutdownEvent()
    box: dict[str, Any] = {}
    upload = params["direction"] == "upload"
    sample = _sampler(traffic, upload=upload)

    def run() -> None:
        try:
            _run_library(module, mini, params, traffic, shutdown, box, sample)
        except Exception as exc:  # speedtest-cli raises many unrelated types
            box["error"] = exc

    worker = threading.Thread(target=run, name="qos-speedtest", daemon=True)
    worker.start()
    samples = _sample_until_done(worker, box, sample, params, context, shutdown, outcome)
    window = _windows(outcome, box, samples, traffic, params)
    if box.get("st") is not None:
        outcome.details = _details(box["st"], box, outcome, upload=upload)
    _judge(module, outcome, box, traffic, window)
    return outcome


def _sampler(traffic: Traffic, *, upload: bool) -> Callable[[], Sample]:
    """Reads the byte count that matters for the direction: acknowledged up, read down."""
    counter = traffic.acked if upload else (lambda: traffic.downloaded)

    def sample() -> Sample:
        # reading every connection's TCP_INFO takes a while when 8 upload threads contend
        # for the GIL: stamp the reading with the middle of that time, not its start
        before = time.monotonic_ns()
        count = counter()
        return (before + time.monotonic_ns()) // 2, count

    return sample


def _run_library(
    module: Any,
    mini: str | None,
    params: Mapping[str, Any],
    traffic: Traffic,
    shutdown: ShutdownEvent,
    box: dict[str, Any],
    sample: Callable[[], Sample],
) -> None:
    """speedtest-cli's own sequence (config, server choice, one direction), in ``box``."""
    upload = params["direction"] == "upload"
    cls = speedtest_class(module)
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
    if not upload and params["download_scheduling"] == "continuous":
        box["rate"] = st.download_continuous(threads)
    elif not upload:
        box["rate"] = st.download(threads=threads)
    elif params["upload_scheduling"] == "continuous":
        box["rate"] = st.upload_continuous(threads)
    else:
        box["rate"] = st.upload(threads=threads)


def _sample_until_done(
    worker: threading.Thread,
    box: dict[str, Any],
    sample: Callable[[], Sample],
    params: Mapping[str, Any],
    context: MeasureContext,
    shutdown: ShutdownEvent,
    outcome: _Outcome,
) -> list[Sample]:
    """Samples every ``interval`` from the test's start until the worker ends or must stop."""
    interval_ns = int(params["interval"] * 1e9)
    samples: list[Sample] = []
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
    if next_tick is None and "t0" in box:  # the test started and ended between two looks
        samples.append((box["t0"], box["c0"]))
    if samples:
        samples.append(sample())
    return samples


def _windows(
    outcome: _Outcome,
    box: dict[str, Any],
    samples: list[Sample],
    traffic: Traffic,
    params: Mapping[str, Any],
) -> tuple[Sample, Sample, str | None] | None:
    """Stores the intervals in ``outcome``; returns the measured window (or None)."""
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
    return window


def _details(st: Any, box: dict[str, Any], outcome: _Outcome, *, upload: bool) -> dict[str, Any]:
    """speedtest-cli's own figures and where they came from; sets ``outcome.bytes_total``."""
    results = st.results
    outcome.bytes_total = int(results.bytes_sent if upload else results.bytes_received)
    return {
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


def _judge(
    module: Any,
    outcome: _Outcome,
    box: dict[str, Any],
    traffic: Traffic,
    window: tuple[Sample, Sample, str | None] | None,
) -> None:
    """Status, error and goodput of the run from what the worker and the counters saw."""
    if "error" in box and outcome.status is Status.OK:
        exc = box["error"]
        outcome.status = Status.UNREACHABLE if is_unreachable(module, exc) else Status.ERROR
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
        t0 = box["t0"]
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
