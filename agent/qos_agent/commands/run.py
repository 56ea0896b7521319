"""``qos-agent run``: the daemon (or ``--once``: every job once, then a summary table).

SIGTERM/SIGINT stop the daemon cleanly: no new job starts, the running one finishes and is
stored.  A second signal asks the running collector to stop early; what it measured so far
is still stored.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from types import FrameType

from qos.records import Measurement
from qos.units import parse_duration_s
from qos_agent.commands.common import add_config_arguments, config_from_args
from qos_agent.fairuse import build_gates
from qos_agent.runtime import AgentRuntime, interruptible_wait
from qos_agent.scheduler import Scheduler
from qos_agent.summary import table

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
    config = config_from_args(args)
    runtime = AgentRuntime(config)
    stop = threading.Event()
    signals = {"count": 0}

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        signals["count"] += 1
        stop.set()
        if signals["count"] > 1:
            runtime.abort.set()
        log.warning("signal %d: stopping after the current measurement", signum)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        if args.once:
            return _run_once(runtime, stop)
        return _run_forever(runtime, stop, args.max_runs)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        runtime.close()


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
    print(table(records))
    print(
        f"\nagent {runtime.agent_id} ({runtime.timezone}); {len(records)} records stored in "
        f"{runtime.store.path}"
    )
    return 0


def _run_forever(runtime: AgentRuntime, stop: threading.Event, max_runs: int | None) -> int:
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
        wait=interruptible_wait(stop),
    )
    produced = scheduler.run(stop, max_runs=max_runs)
    stop.set()
    for stream in streams:
        stream.stop()
    log.info("stopped after %d records", produced)
    return 0


def _gates(runtime: AgentRuntime) -> list:
    """Fair-use gates: daily byte budgets and the cross-traffic guard."""
    return list(build_gates(runtime.config, runtime.store.path.parent, runtime.timezone))


def _start_streams(runtime: AgentRuntime, stop: threading.Event) -> list:
    """Start the continuous low-rate streams; each emits one record per summary window."""
    active = [s for s in runtime.config.streams if s.enabled]
    if not active:
        return []
    from qos.errors import ConfigError
    from qos_agent.continuous import ContinuousStamp

    started = []
    for stream in active:
        if stream.collector != "stamp":
            raise ConfigError(
                f"streams support only the 'stamp' collector, not '{stream.collector}'",
                key=f"streams.{stream.name}.collector",
            )
        unknown = set(stream.params) - {"timeout", "size", "ssid"}
        if unknown:
            raise ConfigError(
                "unknown stream parameter",
                key=f"streams.{stream.name}.params." + sorted(unknown)[0],
                hint="known: timeout, size, ssid",
            )
        params = dict(stream.params)
        timeout_s = parse_duration_s(params.get("timeout", "2s"), default_unit="s")
        started.append(
            ContinuousStamp(
                runtime.reference.resolve(stream.target),
                runtime.commit,
                agent_id=runtime.agent_id,
                interval_s=stream.interval_s,
                summary_interval_s=stream.summary_s,
                timeout_s=timeout_s,
                size=int(params.get("size", 44)),
                ssid=params.get("ssid"),
                labels={**dict(runtime.config.agent.labels), "stream": stream.name},
                clock=runtime.clock,
            ).start()
        )
    return started
