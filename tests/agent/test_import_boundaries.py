"""The agent stays light; the core imports neither app (docs/architecture.md §1)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.agent.conftest import PYTHONPATH

HEAVY = ("pandas", "numpy", "scipy", "matplotlib", "pyarrow")


def _modules_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": PYTHONPATH},
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_agent_cli_does_not_import_the_scientific_stack() -> None:
    loaded = _modules_after(
        "from qos_agent.cli import build_parser\n"
        "build_parser()\n"
        "from qos_agent import collectors\n"
        "[collectors.get(n).check() for n in collectors.names()]"
    )
    assert "qos_agent.cli" in loaded
    heavy = sorted(m for m in loaded if m.split(".")[0] in HEAVY)
    assert heavy == [], f"the agent imported {heavy}"


def test_core_imports_no_app_package_and_no_third_party() -> None:
    loaded = _modules_after(
        "import qos, qos.records, qos.metrics, qos.config, qos.store, qos.serialization, qos.units"
    )
    assert not any(m.split(".")[0] in {"qos_agent", "qos_analysis"} for m in loaded)
    assert not any(m.split(".")[0] in {*HEAVY, "icmplib"} for m in loaded)
