"""A synthetic panel with known structure, for demos, notebooks, tests and benchmarks.

Parameters (:class:`SynthConfig`) and the model behind them:

* **Panel.** ``agents`` devices, each with an operator, region (its IANA time zone), plan
  (advertised download/upload) and access technology, drawn with ``seed``.  The metadata
  table is written as ``agents.csv`` in the dataset.
* **Operators of different quality.** :data:`OPERATORS` gives each operator a base RTT, a
  base loss ratio, a typical speed ratio (delivered / advertised) and a peak-hour
  congestion factor.
* **Diurnal load.** Local hour ``h`` carries the load ``L(h) = exp(-((h - 21) / 2.5)²)``
  (peak 21:00, busy 19–23 h): RTT gains ``20 ms × congestion × L``, loss is multiplied by
  ``1 + 4 × congestion × L`` and speed by ``1 - 0.35 × congestion × L``.
* **Tests.** Every hour an ICMP stream of ``probes_per_test`` probes at 20 ms; every
  ``24 / speed_tests_per_day`` hours a download and an upload test (10 one-second
  intervals).  RTT = base + load + exponential queueing noise (mean 2 ms).
* **Outages.** Each agent-day has an outage with probability ``outage_probability``
  lasting 1–6 h: RTT tests time out with every probe lost, speed tests time out.
* **Churn.** A share ``churn`` of agents joins late or leaves early (uniform days).

Generation is vectorised per agent and written through
:meth:`~qos_analysis.dataset.DatasetWriter.write_tables`, so the dataset is the one the
collector writes (same columns, dedup, atomic parts).  Ids derive from the seed: running the
same command twice stores nothing new.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from qos.durable import atomic_write
from qos.records import RttResult, ThroughputResult
from qos.serialization import result_to_dict
from qos_analysis.dataset import DatasetWriter
from qos_analysis.dataset.layout import METADATA_FILE
from qos_analysis.dataset.schema import SCHEMAS

# name: (base RTT s, base loss ratio, median speed ratio, peak congestion)
OPERATORS: dict[str, tuple[float, float, float, float]] = {
    "op-fast": (0.012, 0.0005, 0.97, 0.2),
    "op-mid": (0.020, 0.002, 0.90, 0.6),
    "op-slow": (0.035, 0.006, 0.78, 1.0),
}
# plan: (advertised download, upload) in bit/s
PLANS: dict[str, tuple[float, float]] = {
    "100/20": (100e6, 20e6),
    "300/50": (300e6, 50e6),
    "1000/100": (1000e6, 100e6),
}
REGIONS: dict[str, str] = {
    "north": "Europe/Berlin",
    "south": "Europe/Rome",
    "west": "Europe/London",
    "east": "Europe/Helsinki",
}
TECHNOLOGIES = ("fibre", "cable", "dsl")
PROBE_INTERVAL_S = 0.02


@dataclass(frozen=True)
class SynthConfig:
    agents: int = 20
    days: int = 7
    seed: int = 0
    start: date = date(2026, 3, 2)
    probes_per_test: int = 100
    speed_tests_per_day: int = 6
    outage_probability: float = 0.05
    churn: float = 0.2

    def check(self) -> None:
        if self.agents < 1 or self.days < 1 or self.probes_per_test < 1:
            raise ValueError("agents, days and probes per test must be at least 1")
        if not 1 <= self.speed_tests_per_day <= 24 or 24 % self.speed_tests_per_day:
            raise ValueError("speed tests per day must divide 24")
        if not (0 <= self.outage_probability <= 1 and 0 <= self.churn <= 1):
            raise ValueError("outage probability and churn must lie in [0, 1]")


def panel_metadata(cfg: SynthConfig) -> pd.DataFrame:
    rng = np.random.default_rng([cfg.seed, 1])
    n = cfg.agents
    plans = rng.choice(list(PLANS), n)
    regions = rng.choice(list(REGIONS), n)
    return pd.DataFrame(
        {
            "agent_id": [f"agent-{i:05d}" for i in range(n)],
            "operator": rng.choice(list(OPERATORS), n),
            "region": regions,
            "plan": plans,
            "technology": rng.choice(TECHNOLOGIES, n),
            "advertised_download_bps": [PLANS[p][0] for p in plans],
            "advertised_upload_bps": [PLANS[p][1] for p in plans],
            "timezone": [REGIONS[r] for r in regions],
        }
    )


def synthesize(cfg: SynthConfig, out: Path) -> dict[str, int]:
    """Write the panel into dataset ``out``; returns rows written per table."""
    cfg.check()
    meta = panel_metadata(cfg)
    writer = DatasetWriter(out)
    writer.write_timezones(dict(zip(meta["agent_id"], meta["timezone"], strict=True)))
    atomic_write(out / METADATA_FILE, lambda tmp: meta.to_csv(tmp, index=False), make_parents=True)
    counts = {"measurements": 0, "probes": 0, "intervals": 0, "agents": len(meta)}
    for i, row in enumerate(meta.itertuples(index=False)):
        rng = np.random.default_rng([cfg.seed, 2, i])
        tables = _agent_tables(cfg, row, rng)
        writer.write_tables(tables)
        for name, table in tables.items():
            counts[name] += table.num_rows
    return counts


def example_panel(out: Path | None = None, *, agents: int = 6, days: int = 3) -> Path:
    """A small panel (``agents`` × ``days``, 20 probes per test) written into ``out`` or a
    fresh temporary directory; returns the dataset path.  The notebooks fall back to it
    when no data path is given, so they run on a fresh checkout."""
    if out is None:
        out = Path(tempfile.mkdtemp(prefix="qos-example-")) / "panel"
    synthesize(SynthConfig(agents=agents, days=days, probes_per_test=20, seed=1), out)
    return out


def _active_days(cfg: SynthConfig, rng: np.random.Generator) -> range:
    if rng.random() >= cfg.churn or cfg.days < 2:
        return range(cfg.days)
    cut = int(rng.integers(1, cfg.days))
    return range(cut, cfg.days) if rng.random() < 0.5 else range(cut)


def _load(local_hour: np.ndarray) -> np.ndarray:
    return np.exp(-(((local_hour - 21.0) / 2.5) ** 2))


def _agent_tables(cfg: SynthConfig, agent: object, rng: np.random.Generator) -> dict[str, pa.Table]:
    days = _active_days(cfg, rng)
    start = datetime.combine(cfg.start, datetime.min.time(), tzinfo=UTC)
    hours = np.array([d * 24 + h for d in days for h in range(24)], dtype=np.int64)
    t_us = (start.timestamp() + hours * 3600.0 + rng.uniform(0, 600, len(hours))) * 1e6
    t_us = t_us.astype(np.int64)
    local = pd.DatetimeIndex(pd.to_datetime(t_us, unit="us", utc=True)).tz_convert(
        agent.timezone  # type: ignore[attr-defined]
    )
    load = _load(np.asarray(local.hour + local.minute / 60.0))
    down = np.zeros(len(hours), dtype=bool)
    for d in days:
        if rng.random() < cfg.outage_probability:
            first = d * 24 + int(rng.integers(0, 24))
            down |= (hours >= first) & (hours < first + int(rng.integers(1, 7)))
    base_rtt, base_loss, ratio, congestion = OPERATORS[agent.operator]  # type: ignore[attr-defined]
    rtt = _rtt_tables(cfg, agent, rng, t_us, load * congestion, down, base_rtt, base_loss)
    step = 24 // cfg.speed_tests_per_day
    sel = (hours % step) == 0
    speeds = [
        _speed_tables(
            agent,
            rng,
            t_us[sel] + 60_000_000 * (k + 1),
            load[sel] * congestion,
            down[sel],
            ratio,
            direction,
        )
        for k, direction in enumerate(("download", "upload"))
    ]
    return {
        "measurements": pa.concat_tables([rtt[0], speeds[0][0], speeds[1][0]]),
        "probes": rtt[1],
        "intervals": pa.concat_tables([speeds[0][1], speeds[1][1]]),
    }


def _ids(rng: np.random.Generator, n: int) -> list[str]:
    words = rng.integers(0, 2**63, size=(n, 2), dtype=np.int64)
    return [f"{a:016x}{b:016x}" for a, b in words]


def _header(result: RttResult | ThroughputResult) -> str:
    header = result_to_dict(result)
    header.pop("probes", None)
    header.pop("intervals", None)
    return json.dumps(header)


def _measurements(
    agent: object,
    ids: list[str],
    t_us: np.ndarray,
    *,
    collector: str,
    target: str,
    duration_s: float,
    ok: np.ndarray,
    kind: str,
    params: list[str],
    results: list[str | None],
) -> pa.Table:
    n = len(ids)
    status = np.where(ok, "ok", "timeout")
    return pa.Table.from_pydict(
        {
            "measurement_id": ids,
            "agent_id": [agent.agent_id] * n,  # type: ignore[attr-defined]
            "collector": [collector] * n,
            "target": [target] * n,
            "started_at": pa.array(t_us, type=pa.timestamp("us", tz="UTC")),
            "duration_s": np.full(n, duration_s),
            "status": status,
            "error": [None if o else "no reply (synthetic outage)" for o in ok],
            "kind": [kind if results[i] is not None else None for i in range(n)],
            "schema_version": np.ones(n, dtype=np.int32),
            "params_json": params,
            "labels_json": ["{}"] * n,
            "result_json": results,
        },
        schema=SCHEMAS["measurements"],
    )


def _rtt_tables(
    cfg: SynthConfig,
    agent: object,
    rng: np.random.Generator,
    t_us: np.ndarray,
    busy: np.ndarray,
    down: np.ndarray,
    base_rtt: float,
    base_loss: float,
) -> tuple[pa.Table, pa.Table]:
    n, p = len(t_us), cfg.probes_per_test
    ids = _ids(rng, n)
    header = _header(
        RttResult(probes=(), interval_s=PROBE_INTERVAL_S, timeout_s=1.0, packet_size_bytes=64)
    )
    params = json.dumps({"count": p, "interval": PROBE_INTERVAL_S})
    meas = _measurements(
        agent,
        ids,
        t_us,
        collector="icmp",
        target="198.51.100.1",
        duration_s=p * PROBE_INTERVAL_S,
        ok=~down,
        kind="rtt",
        params=[params] * n,
        results=[header] * n,
    )
    loss = np.repeat(np.minimum(base_loss * (1 + 4 * busy), 0.5), p)
    lost = (rng.random(n * p) < loss) | np.repeat(down, p)
    rtt = np.repeat(base_rtt + 0.020 * busy, p) + rng.exponential(0.002, n * p)
    seq = np.tile(np.arange(p, dtype=np.int64), n)
    nulls = pa.nulls(n * p)
    probes = pa.Table.from_arrays(
        [
            pa.DictionaryArray.from_arrays(
                pa.array(np.repeat(np.arange(n, dtype=np.int32), p)), pa.array(ids)
            ).cast(pa.string()),
            pa.array(seq),
            pa.array(seq * PROBE_INTERVAL_S),
            pa.array(rtt, mask=lost),
            pa.array(np.full(n * p, 57, dtype=np.int16), mask=lost),
            pa.array(np.zeros(n * p, dtype=np.int32)),
            pa.array(np.full(n * p, 64, dtype=np.int32)),
            nulls.cast(pa.float64()),
            nulls.cast(pa.float64()),
            nulls.cast(pa.float64()),
            nulls.cast(pa.string()),
            nulls.cast(pa.bool_()),
            nulls.cast(pa.int16()),
        ],
        schema=SCHEMAS["probes"],
    )
    return meas, probes


def _speed_tables(
    agent: object,
    rng: np.random.Generator,
    t_us: np.ndarray,
    busy: np.ndarray,
    down: np.ndarray,
    ratio: float,
    direction: str,
) -> tuple[pa.Table, pa.Table]:
    n = len(t_us)
    ids = _ids(rng, n)
    column = f"advertised_{direction}_bps"
    advertised = float(getattr(agent, column))
    delivered = advertised * np.minimum(
        ratio * (1 - 0.35 * busy) * rng.lognormal(0.0, 0.08, n), 1.05
    )
    per_second = (delivered / 8).astype(np.int64)
    results: list[str | None] = []
    for i in range(n):
        if down[i]:
            results.append(None)
            continue
        total = int(per_second[i]) * 10
        results.append(
            _header(
                ThroughputResult(
                    direction=direction,
                    streams=4,
                    duration_s=10.0,
                    warmup_s=0.0,
                    bytes_total=total,
                    goodput_bps=total * 8 / 10.0,
                )
            )
        )
    params = json.dumps({"direction": direction, "duration": 10})
    meas = _measurements(
        agent,
        ids,
        t_us,
        collector="http_throughput",
        target="https://speed.example/",
        duration_s=10.0,
        ok=~down,
        kind="throughput",
        params=[params] * n,
        results=results,
    )
    ok = np.flatnonzero(~down)
    k = len(ok)
    intervals = pa.Table.from_pydict(
        {
            "measurement_id": np.repeat(np.array(ids, dtype=object)[ok], 10),
            "stream": np.full(k * 10, -1, dtype=np.int32),
            "start_offset_s": np.tile(np.arange(10, dtype=np.float64), k),
            "duration_s": np.ones(k * 10),
            "bytes": np.repeat(per_second[ok], 10),
            "warmup": np.zeros(k * 10, dtype=bool),
        },
        schema=SCHEMAS["intervals"],
    )
    return meas, intervals
