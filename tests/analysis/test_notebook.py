"""The example notebook runs end to end against the small fixture data set."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.analysis.notebook_fixture import write_fixture

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_explore_notebook_executes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nbformat = pytest.importorskip("nbformat", reason="nbformat not installed (dev extra)")
    nbclient = pytest.importorskip("nbclient", reason="nbclient not installed (dev extra)")
    pytest.importorskip("ipykernel", reason="ipykernel not installed (dev extra)")
    data = write_fixture(tmp_path / "fixture")
    # The kernel must be this interpreter with the source tree importable.
    monkeypatch.setenv(
        "PATH", os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    )
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), str(ROOT / "analysis")]))
    monkeypatch.setenv("QOS_NOTEBOOK_DATA", str(data))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(ROOT / "notebooks" / "explore.ipynb", as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "\n".join(
        str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", "")) for o in outputs
    )
    assert "measurements" in text and "overall:" in text
    assert "home-berlin" in text and "office-delhi" in text
