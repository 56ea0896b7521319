"""Shared helpers for agent tests: run the real CLI in a subprocess with a temporary store."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PYTHONPATH = os.pathsep.join(str(REPO / p) for p in (".", "agent", "analysis"))


def cli_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QOS_")}
    env["PYTHONPATH"] = PYTHONPATH
    env["XDG_DATA_HOME"] = str(tmp_path / "xdg-data")  # never touch the user's real store
    env["HOME"] = str(tmp_path / "home")
    return env


def cli_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "qos_agent.cli", *args]


@pytest.fixture
def run_cli(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run ``qos-agent ARGS`` in a fresh interpreter; returns the completed process."""

    def run(
        *args: str,
        timeout: float = 120,
        netns: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        argv = cli_argv(*args)
        if netns is not None:
            argv = ["ip", "netns", "exec", netns, *argv]
        return subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=cli_env(tmp_path),
            cwd=tmp_path,
        )

    return run


def icmp_unavailable_reason() -> str | None:
    from qos_agent.collectors.icmp import choose_mode

    mode, reason = choose_mode("auto")
    return None if mode is not None else reason


@pytest.fixture
def isolated_netns() -> Callable[[], str]:
    """A network namespace with only loopback up (root only); deleted afterwards."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("needs root and iproute2 to create a network namespace")
    created: list[str] = []

    def make() -> str:
        name = f"qostest-{os.getpid()}-{len(created)}"
        subprocess.run(["ip", "netns", "add", name], check=True)
        created.append(name)
        subprocess.run(["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"], check=True)
        return name

    yield make
    for name in created:
        subprocess.run(["ip", "netns", "delete", name], check=False)
