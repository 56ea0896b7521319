"""``qos-agent run``: the daemon (or ``--once``: every job once, then a summary table).

SIGTERM/SIGINT stop the daemon cleanly: no new job starts, the running one finishes and is
stored.  A second signal asks the running collector to stop early; what it measured so far
is still stored; records the store cannot take at that point go to a spill file that the
next start imports.  SIGHUP re-reads the config through the same validation as
``check-config``: an invalid one is logged and refused, a valid one replaces the running
config after the current job.

Run it unprivileged: agent/systemd/qos-agent.service grants only CAP_NET_RAW.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

from qos.config import AgentConfig
from qos.errors import QosError
from qos.records import Measurement
from qos.text_safety import neutralize
from qos_agent.commands.common import add_config_arguments, validated_config_from_args
from qos_agent.fairuse import build_gates
from qos_agent.runtime import AgentRuntime
from qos_agent.scheduler import Scheduler
from qos_agent.validation import stream_settings

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run the measurement daemon",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_arguments(parser)
    parser.add_argument(
        "--once",
        action="store_true",
        help="run every enabled job once, print a summary table and exit",
    )
    parser.add_argument(
        "--max-runs",
        type=int,
        default=None,
        help="stop after this many job runs (testing, soak runs)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = validated_config_from_args(args, isolated=not args.once)
    warn_if_root()
    if args.once:
        limit_malloc_arenas()  # jobs run in threads of this process
        runtime = AgentRuntime(config)
        stop = threading.Event()
        with _signals(_stop_handler(stop, runtime)):
            try:
                return _run_once(runtime, stop)
            finally:
                runtime.close()
    return _run_daemon(args, config)


def limit_malloc_arenas(arenas: int = 2) -> None:
    """Cap glibc's per-thread malloc arenas (``M_ARENA_MAX``) for ``--once``, which runs
    jobs in threads of its own process: every thread that allocates (collector workers,
    reference services) otherwise gets an arena of its own, and their free pages stay
    resident — measured: 39 → 33 MB RSS on configs/local.toml.  The daemon runs jobs in
    child processes instead and does not load ``ctypes`` (0.4 MB) for this."""
    if os.environ.get("MALLOC_ARENA_MAX") or not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
        if mallopt is not None:
            mallopt(-8, arenas)  # M_ARENA_MAX
    except OSError:
        pass


def warn_if_root() -> None:
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        log.warning(
            "running as root: the agent needs only CAP_NET_RAW; install "
            "agent/systemd/qos-agent.service to run it as an unprivileged service"
        )


def _stop_handler(stop: threading.Event, runtime: AgentRuntime | None) -> Callable[..., None]:
    count = {"n": 0}

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        count["n"] += 1
        stop.set()
        if count["n"] > 1 and runtime is not None:
            runtime.abort.set()
        log.warning("signal %d: stopping after the current measurement", signum)

    return on_signal


@contextmanager
def _signals(
    handler: Callable[..., None], hup: Callable[..., None] | None = None
) -> Iterator[None]:
    wanted = {signal.SIGTERM: handler, signal.SIGINT: handler}
    if hup is not None:
        wanted[signal.SIGHUP] = hup
    previous = {s: signal.signal(s, h) for s, h in wanted.items()}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


class _Reloader:
    """SIGHUP: re-read the config through the same validation as ``check-config``.

    The signal only wakes a thread; the thread loads and validates the file.  An invalid
    config is logged and the running one keeps going (its schedule untouched); a valid one
    ends the current cycle after the running job, and the daemon restarts with it.
    """

    def __init__(self, args: argparse.Namespace, config: AgentConfig) -> None:
        self.args = args
        self.config = config
        self.pending: AgentConfig | None = None
        self.cycle = threading.Event()
        self._hup = threading.Event()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="qos-reload", daemon=True)
        self._thread.start()

    def on_hup(self, _signum: int, _frame: FrameType | None) -> None:
        self._hup.set()

    def _watch(self) -> None:
        while self._hup.wait() and not self._closed.is_set():
            self._hup.clear()
            try:
                new = validated_config_from_args(self.args, isolated=True)
            except QosError as exc:
                log.error("reload refused, keeping the running config: %s", exc)
                continue
            log.warning("reload: %s is valid; restarting after the current job", new.source)
            self.pending = new
            self.cycle.set()

    def close(self) -> None:
        self._closed.set()
        self._hup.set()
        self._thread.join(timeout=5)


def _run_daemon(args: argparse.Namespace, config: AgentConfig) -> int:
    stop = threading.Event()
    reloader = _Reloader(args, config)
    remaining = args.max_runs
    runtime: AgentRuntime | None = None

    def on_stop(signum: int, frame: FrameType | None) -> None:
        reloader.cycle.set()
        handler(signum, frame)

    handler = _stop_handler(stop, None)
    try:
        with _signals(on_stop, reloader.on_hup):
            while not stop.is_set():
                runtime = AgentRuntime(config, isolate=True)
                handler = _stop_handler(stop, runtime)
                produced = _run_forever(runtime, reloader.cycle, remaining)
                runtime.close()
                runtime = None
                if remaining is not None:
                    remaining -= produced
                    if remaining <= 0:
                        break
                if reloader.pending is None:
                    break  # stopped by a signal or by --max-runs
                config, reloader.pending = reloader.pending, None
                reloader.cycle.clear()
    finally:
        reloader.close()
        if runtime is not None:
            runtime.close()
    return 0


def _run_once(runtime: AgentRuntime, stop: threading.Event) -> int:
    records: list[Measurement] = []
    jobs = [j for j in runtime.config.jobs if j.enabled]
    if not jobs:
        print("qos-agent: the config has no enabled jobs", file=sys.stderr)
        return 2
    for job in jobs:
        if stop.is_set():
            break
        measurement = runtime.run_job(job)
        runtime.commit(measurement)
        records.append(measurement)
    from qos_agent.summary import table  # --once only: keeps qos.metrics out of the daemon

    print(table(records))
    print()
    print(
        neutralize(
            f"agent {runtime.agent_id} ({runtime.timezone}); {len(records)} records stored "
            f"in {runtime.store_path}",
            max_length=1000,
        )
    )
    return 0


def _run_forever(runtime: AgentRuntime, stop: threading.Event, max_runs: int | None) -> int:
    """One cycle of the daemon: streams and scheduled jobs until ``stop``; records made."""
    streams = _start_streams(runtime, stop)
    scheduler = Scheduler(
        runtime.config.jobs,
        runtime.run_job,
        runtime.commit,
        skipped=runtime.skipped,
        is_heavy=runtime.is_heavy,
        gates=_gates(runtime),
        monotonic=time.monotonic,
        wall=runtime.clock.wall,
        wait=runtime.waiter(stop),
        on_clock_step=runtime.clock_stepped,
    )
    produced = scheduler.run(stop, max_runs=max_runs)
    for stream in streams:
        stream.stop()
    log.info("stopped after %d records", produced)
    return 0


def _gates(runtime: AgentRuntime) -> list:
    """Fair-use gates: daily byte budgets and the cross-traffic guard."""
    return list(build_gates(runtime.config, runtime.store_path.parent, runtime.timezone))


def _start_streams(runtime: AgentRuntime, stop: threading.Event) -> list:
    """Start the continuous low-rate streams; each emits one record per summary window.

    Their parameters were checked by :func:`qos_agent.validation.stream_settings` before
    the daemon started; the same function resolves them here.
    """
    started: list = []
    for index, stream in enumerate(runtime.config.streams):
        if not stream.enabled:
            continue
        from qos_agent.continuous import ContinuousStamp  # only with a stream: 4 MB of RSS

        params = stream_settings(stream, f"streams[{index}]")
        started.append(
            ContinuousStamp(
                runtime.reference.resolve(stream.target, keep=True),
                runtime.commit,
                agent_id=runtime.agent_id,
                interval_s=stream.interval_s,
                summary_interval_s=stream.summary_s,
                timeout_s=params["timeout"],
                size=params["size"],
                ssid=params["ssid"],
                labels={**dict(runtime.config.agent.labels), "stream": stream.name},
                clock=runtime.clock,
            ).start()
        )
    return started
