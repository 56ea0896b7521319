"""Benchmark: score a partitioned Parquet dataset with pandas and Dask against DuckDB.

Writes a synthetic panel (``qos synth``'s model) of at least ``--rows`` probe rows into a
partitioned dataset, then runs each engine in its own child process and reports wall time
and the peak resident memory of the child's whole process tree (Dask workers included),
sampled every 50 ms with psutil:

* ``pandas``  — ``load(dataset, probe_columns=SCORING_PROBE_COLUMNS, intervals=False)``
                (the probe columns scoring reads and no throughput intervals, which
                scoring never reads: as ``qos score`` loads) then
                ``score(data, PROFILE)`` in one process;
* ``dask``    — ``score_sources(..., engine="dask")`` on a LocalCluster of 2 worker
                processes, 1 thread each, ``--worker-memory`` each (default 1.5 GB);
* ``duckdb``  — per (agent, collector, target, minute): count, loss, min, mean and exact
                ``quantile_disc`` p50/p95/p99/p99.9 of RTT, straight from the same Parquet
                files (``read_parquet`` with a glob), DuckDB's default threads.

The profile is ``y1541/class0`` with 1-minute windows (four objectives with confidence
bounds), the per-minute quantiles the DuckDB query computes.  Targets: pandas load + score
within 2× DuckDB at 10 M rows; Dask at 100 M rows within 3× DuckDB in ≤ 4 GB peak.  The
100 M-row run takes long on a small machine: ask for it with ``--rows 100000000``.

    python benchmarks/scale.py [--rows 10000000] [--engines pandas,dask,duckdb]
                               [--dataset DIR] [--repeat N]

``--repeat N`` runs the engines N times, alternating, and ends with the median and range of
each engine's work and of the per-run ratios (every ratio is of two children of one round).

(from a checkout: ``PYTHONPATH=.:agent:analysis``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

PROFILE = "y1541/class0"
WINDOW = "1min"
PROBES_PER_TEST = 1000
DAYS = 7
DUCK_SQL = """
SELECT m.agent_id, m.collector, m.target,
       (epoch_us(m.started_at) + CAST(p.send_offset_s * 1e6 AS BIGINT)) // 60000000 AS w,
       count(*) AS sent, count(*) - count(p.rtt_s) AS lost,
       min(p.rtt_s) AS rtt_min, avg(p.rtt_s) AS rtt_mean,
       quantile_disc(p.rtt_s, 0.5) AS p50, quantile_disc(p.rtt_s, 0.95) AS p95,
       quantile_disc(p.rtt_s, 0.99) AS p99, quantile_disc(p.rtt_s, 0.999) AS p999
FROM read_parquet('{root}/probes/*/*/*.parquet') p
JOIN read_parquet('{root}/measurements/*/*/*.parquet') m USING (measurement_id)
GROUP BY ALL
"""


# -- children: one engine each -----------------------------------------------------------------


def run_pandas(root: str) -> dict[str, Any]:
    from qos_analysis import load, score
    from qos_analysis.load import SCORING_PROBE_COLUMNS

    t0 = time.perf_counter()
    # as `qos score` loads (qos_analysis.engine.score_sources)
    data = load(root, probe_columns=SCORING_PROBE_COLUMNS, intervals=False)
    t1 = time.perf_counter()
    verdicts = score(data, PROFILE, window=WINDOW)
    t2 = time.perf_counter()
    return {
        "load_s": t1 - t0,
        "score_s": t2 - t1,
        "verdicts": len(verdicts),
        "probes": len(data.probes),
    }


def run_dask(root: str, memory: str) -> dict[str, Any]:
    from distributed import LocalCluster

    from qos_analysis.engine import score_sources

    t0 = time.perf_counter()
    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        memory_limit=memory,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
    ) as cluster:
        t1 = time.perf_counter()
        verdicts, _ = score_sources(
            [root], PROFILE, engine="dask", scheduler=cluster.scheduler_address, window=WINDOW
        )
        t2 = time.perf_counter()
    return {"cluster_start_s": t1 - t0, "load_score_s": t2 - t1, "verdicts": len(verdicts)}


def run_duckdb(root: str) -> dict[str, Any]:
    import duckdb

    t0 = time.perf_counter()
    groups = duckdb.connect().execute(DUCK_SQL.format(root=root)).df()
    return {
        "query_s": time.perf_counter() - t0,
        "groups": len(groups),
        "sent": int(groups["sent"].sum()),
    }


# -- parent: data, children, memory ------------------------------------------------------------


def make_dataset(root: Path, rows: int) -> dict[str, int]:
    from qos_analysis.panel.synth import SynthConfig, synthesize

    agents = max(1, math.ceil(rows / (DAYS * 24 * PROBES_PER_TEST)))
    cfg = SynthConfig(
        agents=agents,
        days=DAYS,
        seed=1,
        probes_per_test=PROBES_PER_TEST,
        churn=0.0,
        outage_probability=0.02,
    )
    return synthesize(cfg, root)


def tree_rss(pid: int) -> int:
    import psutil

    try:
        proc = psutil.Process(pid)
        procs = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += p.memory_info().rss
    return total


def run_child(engine: str, root: Path, memory: str) -> dict[str, Any]:
    """Run one engine in a child process; its result, wall time and peak tree RSS."""
    cmd = [
        sys.executable,
        __file__,
        "--child",
        engine,
        "--dataset",
        str(root),
        "--worker-memory",
        memory,
    ]
    repo = Path(__file__).resolve().parents[1]
    paths = [str(repo), str(repo / "agent"), str(repo / "analysis")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([*paths, os.environ.get("PYTHONPATH", "")])}
    with (
        tempfile.TemporaryFile(mode="w+") as log,
        tempfile.TemporaryFile(mode="w+") as stdout,
    ):
        start = time.perf_counter()
        with subprocess.Popen(cmd, stdout=stdout, stderr=log, text=True, env=env) as proc:
            peak = _watch_peak(proc)
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            log.seek(0)
            tail = " | ".join(log.read().strip().splitlines()[-3:])
            return {"engine": engine, "error": f"exit {proc.returncode}: {tail}", "wall_s": wall}
        stdout.seek(0)
        out = stdout.read()
    result = json.loads(out.strip().splitlines()[-1])
    return {"engine": engine, "wall_s": wall, "peak_rss_bytes": peak, **result}


def _watch_peak(proc: subprocess.Popen[str]) -> int:
    """Peak RSS of ``proc`` and its descendants, sampled every 50 ms until it exits."""
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, tree_rss(proc.pid))
            stop.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    while proc.poll() is None:
        time.sleep(0.05)
    stop.set()
    sampler.join()
    return peak


def report(results: dict[str, dict[str, Any]], rows: int, memory: str) -> None:
    print(f"probe rows: {rows:,}; Dask: 2 workers × 1 thread, memory limit {memory} each")
    for name, r in results.items():
        if "error" in r:
            print(f"  {name:<7} FAILED ({r['error']}) after {r['wall_s']:.1f} s")
            continue
        work = r.get("query_s") or r.get("load_score_s") or r["load_s"] + r["score_s"]
        r["work_s"] = work
        detail = {
            "pandas": f"load {r.get('load_s', 0):.2f} s + score {r.get('score_s', 0):.2f} s",
            "dask": f"(cluster start {r.get('cluster_start_s', 0):.1f} s not counted)",
        }.get(name, "")
        print(
            f"  {name:<7} work {work:8.2f} s  wall {r['wall_s']:8.2f} s  "
            f"peak RSS {r['peak_rss_bytes'] / 2**30:6.2f} GiB  {detail}"
        )
    duck = results.get("duckdb", {}).get("work_s")
    for name in ("pandas", "dask"):
        r = results.get(name, {})
        if duck and "work_s" in r:
            print(
                f"ratio {name} / DuckDB (load + score vs query from Parquet): "
                f"{r['work_s'] / duck:.2f}×"
            )
    print("targets: pandas ≤ 2× DuckDB at 10 M rows; Dask ≤ 3× DuckDB and ≤ 4 GB at 100 M")


def _load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _spread(values: list[float], unit: str = "") -> str:
    ordered = sorted(values)
    mid = len(ordered) // 2
    median = ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
    return f"median {median:.2f}{unit} (range {ordered[0]:.2f}–{ordered[-1]:.2f}{unit})"


def summarise(rounds: list[dict[str, dict[str, Any]]]) -> None:
    """Median and range over the rounds of each engine's work and of the ratios."""
    print(f"over {len(rounds)} rounds:")
    names = [n for n in rounds[0] if all("work_s" in r.get(n, {}) for r in rounds)]
    for name in names:
        line = f"  {name:<7} work {_spread([r[name]['work_s'] for r in rounds], ' s')}"
        if name == "pandas":
            line += (
                f"; load {_spread([r[name]['load_s'] for r in rounds], ' s')}"
                f", score {_spread([r[name]['score_s'] for r in rounds], ' s')}"
            )
        print(line)
    if "duckdb" in names:
        for name in ("pandas", "dask"):
            if name in names:
                ratios = [r[name]["work_s"] / r["duckdb"]["work_s"] for r in rounds]
                print(
                    f"ratio {name} / DuckDB over the rounds: {_spread(ratios, '×')}; "
                    f"per round {', '.join(f'{x:.2f}×' for x in ratios)}"
                )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--engines", default="pandas,dask,duckdb")
    parser.add_argument("--dataset", type=Path, help="use (or keep) this dataset directory")
    parser.add_argument("--worker-memory", default="1.5GB")
    parser.add_argument("--repeat", type=int, default=1, help="rounds of runs (median shown)")
    parser.add_argument("--child", choices=("pandas", "dask", "duckdb"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        runner = {
            "pandas": lambda: run_pandas(str(args.dataset)),
            "dask": lambda: run_dask(str(args.dataset), args.worker_memory),
            "duckdb": lambda: run_duckdb(str(args.dataset)),
        }[args.child]
        print(json.dumps(runner()))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        root = args.dataset or Path(tmp) / "ds"
        if not (root / "qos-dataset.json").exists():
            t = time.perf_counter()
            sizes = make_dataset(root, args.rows)
            print(
                f"wrote {sizes['probes']:,} probe rows, {sizes['measurements']:,} "
                f"measurements in {time.perf_counter() - t:.1f} s"
            )
        rounds = []
        for i in range(max(1, args.repeat)):
            if args.repeat > 1:
                print(f"round {i + 1} of {args.repeat} (load average {_load_average()})")
            results = {e: run_child(e, root, args.worker_memory) for e in args.engines.split(",")}
            report(results, args.rows, args.worker_memory)
            rounds.append(results)
            counts = {
                results.get("pandas", {}).get("probes"),
                results.get("duckdb", {}).get("sent"),
            } - {None}
            if len(counts) > 1:
                print(f"row counts disagree: {counts}")
                return 1
        if len(rounds) > 1:
            summarise(rounds)
    return 0 if all("error" not in r for res in rounds for r in res.values()) else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
