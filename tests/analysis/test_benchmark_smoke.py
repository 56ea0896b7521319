"""The benchmark runs and our per-minute quantiles equal DuckDB's on the same data."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_benchmark_agrees_with_duckdb_on_a_small_run(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("duckdb", reason="duckdb not installed (dev extra)")
    spec = importlib.util.spec_from_file_location(
        "bench_analysis", ROOT / "benchmarks" / "analysis.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--rows", "40000", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert "unmatched groups 0" in out and "DIFFERENT" not in out
    assert "ratio quantiles ours / DuckDB" in out
