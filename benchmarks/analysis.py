"""Benchmark: load and score 10 million probe rows; the same quantiles with DuckDB.

Generates a synthetic fleet export (Parquet, the layout ``qos-agent export`` writes):
agents × targets × measurements × probes = 10 million probe rows with gamma-distributed
RTTs and 0.1 % loss, then times, each as the median of ``--repeat`` runs:

* ``load``       — ``qos_analysis.load(export_dir)`` into tidy frames;
* ``quantiles``  — ``probe_aggregates(data, "1min")``: per (agent, collector, target,
                   minute) count, loss, min, mean, RFC 2330 p50/p95/p99/p99.9 (+ median,
                   max, Clopper–Pearson loss interval, IPDV pseudo-range);
* ``score``      — ``qos_analysis.score(data, "y1541/class0")`` (1-minute windows, four
                   objectives with confidence bounds);
* DuckDB         — the same per-minute count/loss/min/mean/``quantile_disc`` p50/p95/p99/
                   p99.9, once on the in-memory frames and once straight from the Parquet
                   files.

It checks that DuckDB's ``quantile_disc`` values equal ours in every group (both are the
RFC 2330 / numpy ``inverted_cdf`` definition) and prints the ratios; the target is
ours within 2× of DuckDB.

    python benchmarks/analysis.py [--rows 10000000] [--repeat 3]

(with the package installed, ``pip install -e ".[analysis,dev]"``, or from a checkout with
``PYTHONPATH=.:analysis``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


def generate_export(
    directory: Path, rows: int, probes_per_test: int = 1000, seed: int = 1
) -> dict[str, int]:
    """Write measurements/probes/agents Parquet files with ``rows`` probe rows."""
    rng = np.random.default_rng(seed)
    agents = [f"agent-{i}" for i in range(4)]
    targets = ["198.18.0.1", "198.18.0.2"]
    scopes = [(a, t) for a in agents for t in targets]
    n_tests = rows // probes_per_test
    per_scope = n_tests // len(scopes)
    n_tests = per_scope * len(scopes)
    scope_idx = np.repeat(np.arange(len(scopes)), per_scope)
    k = np.tile(np.arange(per_scope), len(scopes))
    t0_us = 1_772_409_600_000_000  # 2026-03-02T00:00:00Z
    started = t0_us + k * 60_000_000 + rng.integers(0, 5_000_000, n_tests)  # one a minute
    ids = [uuid.UUID(int=int(x)).hex for x in rng.integers(0, 2**63, n_tests)]
    meas = pa.table(
        {
            "measurement_id": pa.array(ids, pa.string()),
            "agent_id": pa.array([scopes[i][0] for i in scope_idx], pa.string()),
            "collector": pa.array(["icmp"] * n_tests, pa.string()),
            "target": pa.array([scopes[i][1] for i in scope_idx], pa.string()),
            "started_at": pa.array(started, pa.timestamp("us", tz="UTC")),
            "duration_s": pa.array(np.full(n_tests, probes_per_test * 0.05)),
            "status": pa.array(["ok"] * n_tests, pa.string()),
            "error": pa.nulls(n_tests, pa.string()),
            "kind": pa.array(["rtt"] * n_tests, pa.string()),
            "schema_version": pa.array(np.ones(n_tests, dtype=np.int32)),
            "params_json": pa.array([f'{{"count": {probes_per_test}}}'] * n_tests, pa.string()),
            "labels_json": pa.array(["{}"] * n_tests, pa.string()),
            "result_json": pa.array(['{"kind": "rtt", "interval_s": 0.05}'] * n_tests, pa.string()),
        }
    )
    n = n_tests * probes_per_test
    rtt = 0.015 + rng.gamma(2.0, 0.004, n)
    lost = rng.random(n) < 0.001
    rtt_arr = pa.array(rtt, mask=lost)
    indices = np.repeat(np.arange(n_tests, dtype=np.int32), probes_per_test)
    probes = pa.table(
        {
            "measurement_id": pa.DictionaryArray.from_arrays(
                pa.array(indices), pa.array(ids, pa.string())
            ),
            "seq": pa.array(np.tile(np.arange(probes_per_test, dtype=np.int64), n_tests)),
            "send_offset_s": pa.array(np.tile(np.arange(probes_per_test) * 0.05, n_tests)),
            "rtt_s": rtt_arr,
            "ttl": pa.array(np.full(n, 60, dtype=np.int16)),
            "duplicates": pa.array(np.zeros(n, dtype=np.int32)),
            "size_bytes": pa.nulls(n, pa.int32()),
            "forward_delay_s": pa.nulls(n, pa.float64()),
            "backward_delay_s": pa.nulls(n, pa.float64()),
            "reflector_residence_s": pa.nulls(n, pa.float64()),
            "lost_direction": pa.nulls(n, pa.string()),
            "one_way_valid": pa.nulls(n, pa.bool_()),
            "reflector_ttl": pa.nulls(n, pa.int16()),
        }
    )
    agents_table = pa.table(
        {
            "agent_id": pa.array(agents, pa.string()),
            "timezone": pa.array(["Europe/Berlin"] * len(agents)),
        }
    )
    intervals = pa.table(
        {
            "measurement_id": pa.array([], pa.string()),
            "stream": pa.array([], pa.int32()),
            "start_offset_s": pa.array([], pa.float64()),
            "duration_s": pa.array([], pa.float64()),
            "bytes": pa.array([], pa.int64()),
            "warmup": pa.array([], pa.bool_()),
        }
    )
    directory.mkdir(parents=True, exist_ok=True)
    pq.write_table(meas, directory / "measurements.parquet")
    pq.write_table(probes, directory / "probes.parquet")
    pq.write_table(agents_table, directory / "agents.parquet")
    pq.write_table(intervals, directory / "intervals.parquet")
    return {"measurements": n_tests, "probes": n}


DUCK_SQL = """
SELECT m.agent_id, m.collector, m.target,
       (epoch_us(m.started_at) + CAST(round(p.send_offset_s * 1e6) AS BIGINT))
           // 60000000 AS w,
       count(*) AS sent,
       count(*) FILTER (WHERE p.rtt_s IS NULL) AS lost,
       min(p.rtt_s) AS rtt_min, avg(p.rtt_s) AS rtt_mean,
       quantile_disc(p.rtt_s, 0.5) AS p50, quantile_disc(p.rtt_s, 0.95) AS p95,
       quantile_disc(p.rtt_s, 0.99) AS p99, quantile_disc(p.rtt_s, 0.999) AS p999
FROM {probes} p JOIN {meas} m ON p.measurement_id = m.measurement_id
GROUP BY ALL
"""


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    import duckdb

    from qos_analysis import load, score
    from qos_analysis.aggregates import probe_aggregates

    with tempfile.TemporaryDirectory() as tmp:
        export = Path(tmp) / "export"
        t = time.perf_counter()
        sizes = generate_export(export, args.rows)
        print(
            f"generated {sizes['probes']:,} probe rows in {sizes['measurements']:,} "
            f"measurements ({time.perf_counter() - t:.1f} s)"
        )
        t_load, data = timed(lambda: load(export), args.repeat)
        t_quant, agg = timed(lambda: probe_aggregates(data, "1min"), args.repeat)
        t_score, verdicts = timed(lambda: score(data, "y1541/class0"), args.repeat)

        con = duckdb.connect()
        probes_df = data.probes[["measurement_id", "send_offset_s", "rtt_s"]].assign(
            measurement_id=data.probes["measurement_id"].astype(str)
        )
        meas_df = data.measurements[
            ["measurement_id", "agent_id", "collector", "target", "started_at"]
        ]
        con.register("probes_df", probes_df)
        con.register("meas_df", meas_df)
        mem_sql = DUCK_SQL.format(probes="probes_df", meas="meas_df")
        t_duck_mem, duck = timed(lambda: con.execute(mem_sql).df(), args.repeat)
        pq_sql = DUCK_SQL.format(
            probes=f"read_parquet('{export / 'probes.parquet'}')",
            meas=f"read_parquet('{export / 'measurements.parquet'}')",
        )
        t_duck_pq, _ = timed(lambda: con.execute(pq_sql).df(), args.repeat)

        # Same numbers?
        ours = agg.assign(
            w=(agg["window_start"] - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(minutes=1)
        )
        merged = ours.merge(
            duck, on=["agent_id", "collector", "target", "w"], how="outer", indicator=True
        )
        unmatched = int((merged["_merge"] != "both").sum())
        both = merged[merged["_merge"] == "both"]
        checks = {
            "sent": (both["sent_x"] == both["sent_y"]).all(),
            "lost": (both["lost_x"] == both["lost_y"]).all(),
            "min": np.allclose(both["rtt_min_s"], both["rtt_min"], rtol=0, atol=0),
            "mean": np.allclose(both["rtt_mean_s"], both["rtt_mean"], rtol=1e-12),
        }
        for ours_col, duck_col in (
            ("rtt_p50_s", "p50"),
            ("rtt_p95_s", "p95"),
            ("rtt_p99_s", "p99"),
            ("rtt_p99_9_s", "p999"),
        ):
            checks[duck_col] = bool((both[ours_col] == both[duck_col]).all())

    groups = len(agg)
    print(
        f"groups (agent × target × minute): {groups:,}; verdicts: {len(verdicts):,} "
        f"({verdicts['outcome'].value_counts().to_dict()})"
    )
    print(
        f"agreement with DuckDB: unmatched groups {unmatched}; "
        + ", ".join(f"{k} {'equal' if v else 'DIFFERENT'}" for k, v in checks.items())
    )
    print(f"median of {args.repeat} runs:")
    print(f"  qos_analysis load (Parquet → tidy frames)      {t_load:7.2f} s")
    print(f"  qos_analysis probe_aggregates 1 min (quantiles) {t_quant:7.2f} s")
    print(f"  qos_analysis score y1541/class0 (1 min windows) {t_score:7.2f} s")
    print(f"  DuckDB same quantiles, in-memory frames          {t_duck_mem:7.2f} s")
    print(f"  DuckDB same quantiles, from Parquet files        {t_duck_pq:7.2f} s")
    print(f"ratio quantiles ours / DuckDB in-memory:           {t_quant / t_duck_mem:7.2f}×")
    print(
        f"ratio load + quantiles / DuckDB from Parquet:      {(t_load + t_quant) / t_duck_pq:7.2f}×"
    )
    print(f"ratio score / DuckDB in-memory:                    {t_score / t_duck_mem:7.2f}×")
    print("target: within 2× of DuckDB")
    ok = unmatched == 0 and all(checks.values())
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
