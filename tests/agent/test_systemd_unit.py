"""The shipped systemd unit verifies and keeps the agent unprivileged."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[2] / "agent" / "systemd" / "qos-agent.service"


def _service() -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    section = None
    for raw in UNIT.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line
            continue
        if section == "[Service]":
            key, _, value = line.partition("=")
            values.setdefault(key, []).append(value)
    return values


def test_the_unit_runs_unprivileged_with_only_cap_net_raw() -> None:
    service = _service()
    assert service.get("DynamicUser") == ["yes"] or "User" in service
    assert service["AmbientCapabilities"] == ["CAP_NET_RAW"]
    assert service["CapabilityBoundingSet"] == ["CAP_NET_RAW"]
    for key, value in {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "StateDirectory": "qos-agent",
    }.items():
        assert service[key] == [value], key
    assert "User" not in service or service["User"] != ["root"]
    assert any("SIGHUP" in v or "-HUP" in v for v in service["ExecReload"])


def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed")
    # verify insists that ExecStart exists: point it at this interpreter's agent
    unit = tmp_path / "qos-agent.service"
    unit.write_text(
        UNIT.read_text().replace(
            "/usr/local/bin/qos-agent", f"{sys.executable} -m qos_agent.cli", 1
        )
    )
    result = subprocess.run([tool, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    problems = [
        line for line in result.stderr.splitlines() if str(unit) in line or "qos-agent" in line
    ]
    assert result.returncode == 0, result.stderr
    assert problems == [], problems
