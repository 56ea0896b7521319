"""The example notebook runs end to end against the small fixture data set."""

from __future__ import annotations

import base64
import importlib.util
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


AUDIENCE_NOTEBOOKS = (
    "01-my-connection.ipynb",
    "02-regulator-audit.ipynb",
    "03-voice-quality.ipynb",
    "04-contract-evidence.ipynb",
)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _kernel_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "PATH", os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    )
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), str(ROOT / "analysis")]))
    monkeypatch.delenv("QOS_NOTEBOOK_DATA", raising=False)  # the fresh-checkout default
    monkeypatch.setenv("MPLBACKEND", "Agg")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "source"),
    [(name, "default") for name in AUDIENCE_NOTEBOOKS]
    + [("01-my-connection.ipynb", "fixture"), ("04-contract-evidence.ipynb", "fixture")],
)
def test_audience_notebook_executes_with_figures(
    name: str, source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each notebook runs without error on its default data (a fresh checkout) and the
    household notebooks also on an export given by QOS_NOTEBOOK_DATA; every figure is a
    real PNG."""
    nbformat = pytest.importorskip("nbformat", reason="nbformat not installed (dev extra)")
    nbclient = pytest.importorskip("nbclient", reason="nbclient not installed (dev extra)")
    pytest.importorskip("ipykernel", reason="ipykernel not installed (dev extra)")
    _kernel_env(monkeypatch)
    if source == "fixture":
        monkeypatch.setenv("QOS_NOTEBOOK_DATA", str(write_fixture(tmp_path / "fixture")))
    nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    if name != "03-voice-quality.ipynb":  # formulas only, no data
        text = "\n".join(str(o.get("text", "")) for o in outputs)
        expected = str(tmp_path / "fixture") if source == "fixture" else "qos-example-"
        read = [line for line in text.splitlines() if "probes from" in line]
        assert read and expected in read[0], f"{name} did not read the {source} data"
    pngs = [o["data"]["image/png"] for o in outputs if "image/png" in o.get("data", {})]
    assert pngs, f"{name} shows no figure"
    for png in pngs:
        raw = base64.b64decode(png)
        assert raw.startswith(PNG_MAGIC) and len(raw) > 2000, f"{name}: empty figure"


def test_audience_notebooks_match_generator_and_are_stripped() -> None:
    """The committed notebooks are exactly what notebooks/generate.py writes (no outputs)."""
    nbformat = pytest.importorskip("nbformat", reason="nbformat not installed (dev extra)")
    spec = importlib.util.spec_from_file_location("nb_generate", ROOT / "notebooks" / "generate.py")
    assert spec and spec.loader
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    assert tuple(generate.NOTEBOOKS) == AUDIENCE_NOTEBOOKS
    for name in AUDIENCE_NOTEBOOKS:
        committed = nbformat.read(ROOT / "notebooks" / name, as_version=4)
        assert [c.source for c in committed.cells] == [c.source for c in generate.build(name).cells]
        for cell in committed.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None
