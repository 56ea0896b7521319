"""benchmarks/scale.py runs end to end on a small panel and its engines agree on the rows."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_scale_benchmark_small_run(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    pytest.importorskip("duckdb", reason="duckdb not installed (dev extra)")
    pytest.importorskip("distributed", reason="dask not installed (scale extra)")
    pytest.importorskip("psutil", reason="psutil measures the process tree's memory")
    spec = importlib.util.spec_from_file_location("bench_scale", ROOT / "benchmarks" / "scale.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    code = module.main(["--rows", "200000", "--dataset", str(tmp_path / "ds")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "FAILED" not in out and "ratio pandas / DuckDB" in out and "ratio dask / DuckDB" in out
