"""The documentation site: the generated reference matches the code, and MkDocs builds it
strictly (every nav entry and internal link resolves)."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from qos.profiles import available_profiles
from qos.profiles.catalogue import METRICS

ROOT = Path(__file__).resolve().parents[1]


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_reference", ROOT / "docs" / "gen_reference.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_reference_lists_exactly_the_catalogue_and_every_shipped_profile() -> None:
    text = (ROOT / "docs" / "reference.md").read_text(encoding="utf-8")
    metrics_part, _, profiles_part = text.partition("## Profiles")
    listed_metrics = re.findall(r"^\| `([a-z0-9_]+)` \|", metrics_part, flags=re.M)
    assert sorted(listed_metrics) == sorted(METRICS)
    listed_profiles = re.findall(r"^### `([^`]+)`$", profiles_part, flags=re.M)
    shipped = available_profiles(dirs=[ROOT / "configs" / "profiles"])
    assert sorted(listed_profiles) == sorted(shipped)
    # Every objective of every shipped profile appears in its profile's table.
    for name, profile in shipped.items():
        section = profiles_part.split(f"### `{name}`", 1)[1].split("\n### ", 1)[0]
        for obj in profile.objectives:
            assert f"| `{obj.id}` | `{obj.metric}` |" in section, (name, obj.id)


def test_reference_is_the_generators_output() -> None:
    """docs/reference.md is never hand-edited: regenerate with docs/gen_reference.py."""
    committed = (ROOT / "docs" / "reference.md").read_text(encoding="utf-8")
    assert committed == _generator().render()


@pytest.mark.slow
def test_mkdocs_build_strict(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs", reason="mkdocs not installed (docs extra)")
    pytest.importorskip("material", reason="mkdocs-material not installed (docs extra)")
    mkdocs = shutil.which("mkdocs", path=str(Path(sys.executable).parent))
    cmd = [mkdocs] if mkdocs else [sys.executable, "-m", "mkdocs"]
    done = subprocess.run(
        [*cmd, "build", "--strict", "-f", str(ROOT / "mkdocs.yml"), "-d", str(tmp_path / "site")],
        capture_output=True,
        text=True,
        timeout=300,
        env={"NO_MKDOCS_2_WARNING": "1", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for page in ("index.html", "reference/index.html", "regulator/index.html"):
        assert (tmp_path / "site" / page).stat().st_size > 1000
