"""Loopback throughput benchmark: our collectors next to Debian's iperf3.

    .venv/bin/python benchmarks/throughput.py            # 3 runs per cell, about 2 minutes
    .venv/bin/python benchmarks/throughput.py --runs 5 --seconds 3

For 1 and 4 parallel TCP streams and both directions it measures, one after the other on
127.0.0.1:

* Debian ``iperf3`` client against ``iperf3 -s`` (``-t T -O W``; ``-R`` for download), the
  receiver-side figure ``end.sum_received.bits_per_second`` (docs/methods.md §12.5);
* ``http_throughput`` against the reference server (``qos-agent server``, a separate
  process, as iperf3's server is), same warm-up ``W`` and measured time ``T``;
* the native iperf3-protocol collector ``iperf3`` against the same ``iperf3 -s``, when
  ``agent/qos_agent/collectors/iperf3.py`` exists.

It prints the median goodput of the runs and each collector's ratio to iperf3 (target
≥ 0.8).  Loopback figures depend on CPU: on a shared 2-core machine they vary by tens of
percent from run to run, which is why medians are compared.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
for _p in (REPO, REPO / "agent"):
    if str(_p) not in sys.path:
        sys.path.insert(0, str(_p))

from qos.records import Status  # noqa: E402
from qos_agent import collectors  # noqa: E402
from qos_agent.collectors.base import MeasureContext, run_collector  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_port(port: int, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


def iperf3_bps(port: int, streams: int, download: bool, seconds: int, warmup: int) -> float:
    argv = [
        "iperf3",
        "-c",
        "127.0.0.1",
        "-p",
        str(port),
        "-J",
        "-t",
        str(seconds),
        "-O",
        str(warmup),
        "-P",
        str(streams),
    ]
    if download:
        argv.append("-R")
    for _ in range(5):  # the stock server may still be finishing the previous test
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30)
        data = json.loads(proc.stdout or "{}")
        if "error" not in data and "end" in data:
            return float(data["end"]["sum_received"]["bits_per_second"])
        time.sleep(0.5)
    raise RuntimeError(f"iperf3 failed: {data.get('error')}")


def collector_bps(name: str, target: str, params: dict[str, object]) -> float | None:
    m = run_collector(collectors.get(name), target, params, MeasureContext(agent_id="bench"))
    result = m.result
    if m.status is not Status.OK or result is None or getattr(result, "goodput_bps", None) is None:
        print(f"  {name}: {m.status} {m.error}", file=sys.stderr)
        return None
    return float(result.goodput_bps)  # type: ignore[union-attr]


def median(values: list[float | None]) -> float | None:
    good = [v for v in values if v is not None]
    return statistics.median(good) if good else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=2, help="measured time per test")
    parser.add_argument("--warmup", type=int, default=1, help="excluded warm-up per test")
    args = parser.parse_args()
    have_iperf3_collector = (REPO / "agent/qos_agent/collectors/iperf3.py").exists()

    iperf_port = free_port()
    iperf_server = subprocess.Popen(
        ["iperf3", "-s", "-B", "127.0.0.1", "-p", str(iperf_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    env = {"PYTHONPATH": f"{REPO}:{REPO / 'agent'}", "PATH": "/usr/bin:/bin"}
    ref_server = subprocess.Popen(
        [sys.executable, "-m", "qos_agent.cli", "server", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=REPO,
    )
    started = time.monotonic()
    try:
        wait_port(iperf_port)
        assert ref_server.stdout is not None
        url = ref_server.stdout.readline().split("serving ", 1)[1].split()[0].rstrip("/")
        rows = []
        for direction in ("download", "upload"):
            download = direction == "download"
            for streams in (1, 4):
                cells: dict[str, list[float | None]] = {"iperf3": [], "http": [], "native": []}
                tools: dict[str, Callable[[], float | None]] = {
                    "iperf3": lambda s=streams, d=download: iperf3_bps(
                        iperf_port, s, d, args.seconds, args.warmup
                    ),
                    "http": lambda s=streams, d=direction: collector_bps(
                        "http_throughput",
                        url,
                        {
                            "direction": d,
                            "streams": s,
                            "duration": args.seconds,
                            "warmup": args.warmup,
                        },
                    ),
                }
                if have_iperf3_collector:
                    tools["native"] = lambda s=streams, d=download: collector_bps(
                        "iperf3",
                        f"127.0.0.1:{iperf_port}",
                        {"reverse": d, "streams": s, "duration": args.seconds, "omit": args.warmup},
                    )
                for _ in range(args.runs):  # interleaved, so load changes hit all tools alike
                    for name, tool in tools.items():
                        cells[name].append(tool())
                rows.append((direction, streams, {k: median(v) for k, v in cells.items()}))
    finally:
        for proc in (ref_server, iperf_server):
            proc.terminate()
            proc.wait(timeout=10)
        if ref_server.stdout is not None:
            ref_server.stdout.close()

    def fmt(value: float | None) -> str:
        return "   n/a" if value is None else f"{value / 1e9:6.2f}"

    def ratio(value: float | None, ref: float | None) -> str:
        return "  n/a" if value is None or not ref else f"{value / ref:5.2f}"

    print(
        f"\nLoopback goodput, Gbit/s, median of {args.runs} runs "
        f"({args.warmup} s warm-up + {args.seconds} s measured), ratio to Debian iperf3:"
    )
    print(
        f"{'direction':9} {'streams':>7} {'iperf3':>7} {'http':>7} {'ratio':>5} "
        f"{'iperf3-proto':>12} {'ratio':>5}"
    )
    for direction, streams, med in rows:
        native = fmt(med["native"]) if have_iperf3_collector else "   n/a"
        print(
            f"{direction:9} {streams:7d} {fmt(med['iperf3']):>7} {fmt(med['http']):>7} "
            f"{ratio(med['http'], med['iperf3']):>5} {native:>12} "
            f"{ratio(med['native'], med['iperf3']):>5}"
        )
    if not have_iperf3_collector:
        print(
            "(agent/qos_agent/collectors/iperf3.py does not exist yet: no iperf3-protocol column)"
        )
    print(
        "download = server sends (iperf3 -R); upload = client sends. Target ratio >= 0.8. "
        f"Took {time.monotonic() - started:.0f} s."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
