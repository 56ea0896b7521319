"""Dependency direction (docs/architecture.md §1), checked statically over every source file.

* ``qos`` imports only the standard library and itself;
* ``qos_agent`` imports ``qos``, the standard library and its light runtime libraries;
* ``qos_analysis`` imports ``qos`` and the scientific stack, never ``qos_agent``.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = {
    "qos": REPO / "qos",
    "qos_agent": REPO / "agent" / "qos_agent",
    "qos_analysis": REPO / "analysis" / "qos_analysis",
}
ALLOWED_THIRD_PARTY = {
    "qos": set(),
    # pyarrow: imported lazily, only by Parquet export and the parquet exporter;
    # prometheus_client: only when a prometheus exporter is configured;
    # cryptography: imported lazily by the integrity reference and tls_integrity (SPKI pin)
    "qos_agent": {"icmplib", "dns", "speedtest", "pyarrow", "prometheus_client", "cryptography"},
    "qos_analysis": {
        "numpy",
        "pandas",
        "scipy",
        "matplotlib",
        "pyarrow",
        "jinja2",
        "dask",
        "distributed",
        "rich",
        "duckdb",
        # the `report` extra, imported only when a PDF is rendered
        "weasyprint",
        # the fleet collector (the `collector` extra), imported only by `qos collector`
        "starlette",
        "uvicorn",
        "prometheus_client",
    },
}
FORBIDDEN_FIRST_PARTY = {
    "qos": {"qos_agent", "qos_analysis"},
    "qos_agent": {"qos_analysis"},
    "qos_analysis": {"qos_agent"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_imports_follow_the_dependency_direction(package: str) -> None:
    root = PACKAGES[package]
    files = sorted(root.rglob("*.py"))
    if not files:
        pytest.skip(f"{package} has no source files yet")
    problems = []
    for path in files:
        for name in _imports(path):
            if name in FORBIDDEN_FIRST_PARTY[package]:
                problems.append(f"{path.relative_to(REPO)} imports {name} (forbidden)")
            elif name in sys.stdlib_module_names or name in {package, "qos", "__future__"}:
                continue
            elif name not in ALLOWED_THIRD_PARTY[package]:
                problems.append(f"{path.relative_to(REPO)} imports {name} (not allowed here)")
    assert problems == []
