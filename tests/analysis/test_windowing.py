"""One windowing engine: ``qos_analysis.stats`` holds pure formulas and windowing (it never
imports the loader nor the populations), and aggregates and verdicts share its windows."""

from __future__ import annotations

import ast
from datetime import timedelta
from pathlib import Path

import numpy as np

from qos_analysis import aggregates, load, score
from qos_analysis.stats import windows
from tests.analysis.synthetic import T0, stream_series, write_store

STATS = Path(__file__).resolve().parents[2] / "analysis" / "qos_analysis" / "stats"
FORBIDDEN = (
    "qos_analysis.load",
    "qos_analysis.readers",
    "qos_analysis.populations",
    "qos_analysis.aggregates",
    "qos_analysis.scoring",
)


def _imported_modules(path: Path) -> set[str]:
    """Every module an ``import`` statement of ``path`` names, at any depth."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.level:
                names.add(f"qos_analysis.stats.{node.module}")  # relative: inside stats
            else:
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_stats_modules_import_neither_the_loader_nor_populations() -> None:
    files = sorted(STATS.rglob("*.py"))
    assert len(files) >= 8
    problems = [
        f"{path.name} imports {name}"
        for path in files
        for name in sorted(_imported_modules(path))
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)
    ]
    assert problems == []


def test_moved_aggregates_keep_their_old_import_path() -> None:
    from qos_analysis.stats.windows import (
        DEFAULT_PERCENTILES,
        peak_offpeak,
        probe_aggregates,
        throughput_aggregates,
    )

    assert probe_aggregates is aggregates.probe_aggregates
    assert throughput_aggregates is aggregates.throughput_aggregates
    assert peak_offpeak is aggregates.peak_offpeak
    assert DEFAULT_PERCENTILES == aggregates.DEFAULT_PERCENTILES
    assert not hasattr(windows, "no_such_name")


def test_verdicts_and_aggregates_share_the_windows(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    ms = stream_series(
        rng,
        start=T0 + timedelta(minutes=20),
        count=30,
        every=timedelta(minutes=7),
        probes=40,
        base_rtt_s=0.02,
        jitter_s=0.005,
        loss=0.01,
    )
    data = load(write_store(tmp_path / "s.sqlite", ms, {"agent-a": "Europe/Berlin"}))
    for window in ("1h", "1d", "all"):
        agg = aggregates.probe_aggregates(data, window)
        verdicts = score(data, "y1541/class0", window=window)
        loss = verdicts[verdicts["metric"] == "loss_ratio"].reset_index(drop=True)
        assert len(loss) == len(agg)
        assert (loss["window_start"] == agg["window_start"]).all()
        assert (loss["window_end"] == agg["window_end"]).all()
        assert (loss["n_samples"].to_numpy() == agg["sent"].to_numpy()).all()
        assert (loss["n_tests"].to_numpy() == agg["tests"].to_numpy()).all()
